"""The classification report (per-class precision, recall, F1, support; accuracy, macro
and weighted averages) from per-class true/false positive and false negative counts."""


def _ratio(num, den):
    return num / den if den else 0.0


def classification_report(tp, fp, fn, class_names=None):
    """A dict shaped like scikit-learn's ``classification_report(output_dict=True)``.

    Args:
        tp, fp, fn: per-class counts (sequences of ints).
        class_names: optional names; class indices as strings otherwise.
    """
    tp, fp, fn = (list(map(int, v)) for v in (tp, fp, fn))
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(tp))]
    report = {}
    for name, t, p, n in zip(names, tp, fp, fn):
        precision, recall = _ratio(t, t + p), _ratio(t, t + n)
        report[name] = {"precision": precision, "recall": recall,
                        "f1-score": _ratio(2 * precision * recall, precision + recall),
                        "support": t + n}
    total = sum(tp) + sum(fn)
    report["accuracy"] = _ratio(sum(tp), total)
    rows = [report[name] for name in names]
    averages = (("macro avg", [1] * len(rows)), ("weighted avg", [r["support"] for r in rows]))
    for avg, weights in averages:
        report[avg] = {key: _ratio(sum(w * r[key] for w, r in zip(weights, rows)), sum(weights))
                       for key in ("precision", "recall", "f1-score")}
        report[avg]["support"] = total
    return report
