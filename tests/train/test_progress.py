"""The training progress bar draws its last step once, however the refresh timing falls."""

import io

from tqdm.auto import tqdm

from pushforward.train.loop import _advance


def _final_lines(advance) -> list[str]:
    out = io.StringIO()
    bar = tqdm(total=3, file=out, mininterval=0, miniters=1, ascii=True)  # every update draws
    for step in (1, 2, 3):
        advance(bar, step == 3)
    bar.close()
    return [line for line in out.getvalue().replace("\r", "\n").splitlines() if "3/3" in line]


def test_the_last_step_is_drawn_once_even_when_every_update_refreshes():
    assert len(_final_lines(_advance)) == 1
    # the plain update of every step draws the last line twice (once more on close)
    assert len(_final_lines(lambda bar, last: bar.update(1))) == 2
