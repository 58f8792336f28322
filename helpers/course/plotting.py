"""Point labels that do not sit on each other.

``label_points`` writes each label next to its point, trying a few places around it (right, below
right, left, below left, above) and taking the first whose box overlaps no label already placed and
no other point. Boxes are measured on the drawn figure, in pixels, so it works on log axes too.
"""
OFFSETS = ((5, 2), (5, -11), (-5, 2), (-5, -11), (0, 8), (0, -16), (12, 10), (12, -20))  # points, from the dot
POINT_RADIUS_PX = 4


def _overlaps(box, others) -> bool:
    return any(box.overlaps(other) for other in others)


def label_points(ax, xs, ys, labels, fontsize: int = 7) -> list:
    """Annotate point i with labels[i] where it collides least; returns the annotations.

    Set the axes' scales (and limits, if you set them) before calling: placement uses the current view.
    """
    from matplotlib.transforms import Bbox

    if not len(xs) == len(ys) == len(labels):
        raise ValueError(f"xs, ys and labels must have the same length, got {len(xs)}, {len(ys)}, {len(labels)}")
    ax.autoscale_view()
    renderer = ax.figure.canvas.get_renderer()
    dots = [ax.transData.transform((x, y)) for x, y in zip(xs, ys)]
    dot_boxes = [Bbox.from_extents(px - POINT_RADIUS_PX, py - POINT_RADIUS_PX, px + POINT_RADIUS_PX, py + POINT_RADIUS_PX)
                 for px, py in dots]
    placed, annotations = [], []
    for i, (x, y, label) in enumerate(zip(xs, ys, labels)):
        others = placed + dot_boxes[:i] + dot_boxes[i + 1:]
        for dx, dy in OFFSETS:
            text = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                               ha="left" if dx > 0 else "right" if dx < 0 else "center")
            box = text.get_window_extent(renderer)
            if not _overlaps(box, others):
                break
            text.remove()
        else:  # every place collides: keep the first one
            dx, dy = OFFSETS[0]
            text = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize)
            box = text.get_window_extent(renderer)
        placed.append(box)
        annotations.append(text)
    return annotations
