"""cli/errors.py: one `error:` line per refusal, a DataLoader worker's traceback stripped from it,
--debug taken from any position (issue 33)."""

from moka_train.cli.errors import message_of, pop_debug
from moka_train.data.dataset import BadSampleError

WRAPPED = (
    "Caught BadSampleError in DataLoader worker process 0.\n"
    "Original Traceback (most recent call last):\n"
    '  File "/x/torch/utils/data/_utils/worker.py", line 349, in _worker_loop\n'
    "    data = fetcher.fetch(index)\n"
    "moka_train.data.dataset.BadSampleError: unreadable_media: sample av_3: cannot read /d/a.wav: not a WAV file\n"
)


def test_a_worker_error_is_its_own_message_without_the_traceback():
    assert message_of(BadSampleError(WRAPPED)) == "unreadable_media: sample av_3: cannot read /d/a.wav: not a WAV file"
    assert message_of(BadSampleError("plain: message")) == "plain: message"


def test_debug_is_taken_from_any_position_except_lmms_eval_arguments():
    assert pop_debug(["train", "--config", "c.yaml", "--debug"]) == (["train", "--config", "c.yaml"], True)
    assert pop_debug(["--debug", "validate", "--config", "c.yaml"]) == (["validate", "--config", "c.yaml"], True)
    assert pop_debug(["lmms-eval", "--debug"]) == (["lmms-eval", "--debug"], False)
