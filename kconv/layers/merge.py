"""Keras 2's ``keras.layers.merge`` import path (Keras 3 calls the module ``merging``)."""

from kconv.layers.merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply,
                                  Subtract, add, average, concatenate, dot, maximum, minimum,
                                  multiply, subtract)

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
           "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]
