"""Compare's Confusion tab: each run's matrix and the difference of two, a click on a cell showing the
test images behind it right under the chart clicked."""

import streamlit as st

from cnnkit.explorer import charts, comparison, plain_text
from cnnkit.errors import InputError
from app_pages.common import cached_test_split, kept_key

CELL_IMAGES = 50  # at most this many images under a clicked cell


def confusion_view(evaluations: dict, names: dict, comparable) -> None:
    """`evaluations` (run id -> evaluation) of runs named `names`, as `comparable` allows."""
    normalize = st.toggle("Row-normalised (share of each true class)", key=kept_key("compare.normalize", True))
    st.caption("Click a cell to see the test images behind it.")
    columns = st.columns(min(2, len(evaluations)))  # 10 classes stay readable at half width
    for i, (run_id, evaluation) in enumerate(evaluations.items()):
        with columns[i % len(columns)]:
            event = st.plotly_chart(
                charts.confusion_matrix(evaluation.confusion, evaluation.class_names, normalize=normalize,
                                        title=names[run_id], clickable=True),
                width="stretch", on_select="rerun", selection_mode="points", key=f"confusion-{run_id}")
            if cell := comparison.clicked_cell(_points(event)):
                _cell_images(run_id, evaluation, names[run_id], *cell, columns=5 if len(columns) > 1 else 10)
    if len(evaluations) >= 2:
        _difference_view(evaluations, names, comparable)


def _points(event) -> list:
    """The points a click selected (the chart's state is a dict; AppTest sets it as one)."""
    return ((event or {}).get("selection") or {}).get("points") or []


def _difference_view(evaluations: dict, names: dict, comparable) -> None:
    first, second = st.columns(2)
    index_a, index_b = comparable.difference_pair()
    runs = ",".join(evaluations)  # in the keys: another set of runs starts again from its own best pair
    a = first.selectbox("Difference: A", list(evaluations), format_func=names.get,
                        key=kept_key(f"compare.diff.a.{runs}", list(evaluations)[index_a]))
    b = second.selectbox("B", list(evaluations), format_func=names.get,
                         key=kept_key(f"compare.diff.b.{runs}", list(evaluations)[index_b]))
    if reason := comparable.why_not("difference", runs=(plain_text.markdown(names[a]), plain_text.markdown(names[b]))):
        st.info(reason)
        return
    st.caption("Each cell: how many more (+) or fewer (−) test images B puts there than A; blank where they agree. "
               "Blue where B does better, red where A does: on the diagonal more images is better, off it fewer, "
               "so a blue cell off the diagonal has a negative number. Click a cell to see its images.")
    event = st.plotly_chart(charts.confusion_difference(evaluations[a].confusion, evaluations[b].confusion,
                                                        evaluations[a].class_names, names=(names[a], names[b]),
                                                        clickable=True),
                            width="stretch", on_select="rerun", selection_mode="points", key=f"difference-{a}-{b}")
    if cell := comparison.clicked_cell(_points(event)):
        _changed_images(evaluations[a], evaluations[b], (names[a], names[b]), a, *cell)


def _cell_images(run_id: str, evaluation, name: str, true: str, predicted: str, columns: int) -> None:
    """The test images behind one clicked cell of one run's matrix, captioned in its own class names."""
    true_index, predicted_index = evaluation.class_names.index(true), evaluation.class_names.index(predicted)
    mistakes = evaluation.mistakes
    cell = mistakes[(mistakes["true"] == true_index) & (mistakes["predicted"] == predicted_index)]
    st.markdown(f"**{plain_text.markdown(name)}**: true *{plain_text.markdown(true)}*, "
                f"predicted *{plain_text.markdown(predicted)}*")
    if true_index == predicted_index:
        st.caption(f"{int(evaluation.confusion[true_index, true_index])} test images classified correctly.")
    elif cell.empty:
        st.caption("No test images in this cell.")
    else:
        try:
            images = cached_test_split(run_id).x_test[cell["index"].to_numpy()[:CELL_IMAGES]]
        except InputError as error:
            st.warning(plain_text.markdown(error))
            return
        st.plotly_chart(charts.gallery(images, [f"#{i} {c:.0%}" for i, c in zip(cell["index"], cell["confidence"])],
                                       columns=columns), width="stretch", key=f"cell-{run_id}")


def _changed_images(a, b, names: tuple[str, str], split_of: str, true: str, predicted: str) -> None:
    """The test images that only A, or only B, puts in the clicked difference cell, each captioned
    with what A and B predicted (the two runs saw the same test images: `split_of` names one)."""
    try:
        split = cached_test_split(split_of)
    except InputError as error:
        st.warning(plain_text.markdown(error))
        return
    change = comparison.cell_change(a, b, split.y_test, true, predicted)
    predictions = [comparison.predictions(run, split.y_test) for run in (a, b)]
    classes = [str(c) for c in a.class_names]
    st.markdown(f"True *{plain_text.markdown(true)}*, predicted *{plain_text.markdown(predicted)}*: "
                f"{len(change.both)} test images in this cell for both runs, {len(change.only_a)} only for A "
                f"({plain_text.markdown(names[0])}), {len(change.only_b)} only for B ({plain_text.markdown(names[1])}). "
                "Each image says what A and B predicted, in blue where B is right.")
    for title, indices in ((f"Only A puts here: {len(change.only_a)}", change.only_a),
                           (f"Only B puts here: {len(change.only_b)}", change.only_b)):
        shown = indices[:CELL_IMAGES]
        if len(shown):
            captions = [f"#{i}\nA: {classes[predictions[0][i]]} B: {classes[predictions[1][i]]}" for i in shown]
            st.plotly_chart(charts.gallery(split.x_test[shown], captions, columns=10,
                                           correct=[predictions[1][i] == split.y_test[i] for i in shown],
                                           title=title),
                            width="stretch", key=f"difference-cell-{title[:6]}")
