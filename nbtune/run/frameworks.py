"""What nbtune knows of the deep-learning frameworks' own loops that a trial's reports come
from: a report made during PyTorch Lightning's sanity check, the validation of the untrained
model that ``Trainer.fit`` starts with, is no epoch of training (:func:`in_sanity_check`)."""
from __future__ import annotations

import sys

# a report made while Lightning checks its validation loop before training, left out: see
# in_sanity_check (one text for every trial, counted as one warning in the summary)
SANITY_NOTE = ("report() in Lightning's sanity check was left out: `if trainer.sanity_checking: "
               "return` skips it\n(the untrained model's two validation batches before epoch 1 "
               "read as epoch 1, and the scheduler judged trials on them; Ray Tune's callback "
               "leaves them out too)")  # its first line whole in the summary's 100 characters
LIGHTNING = ("lightning.pytorch", "pytorch_lightning")


def in_sanity_check() -> bool:
    """Whether a PyTorch Lightning ``Trainer`` is running its sanity check, the validation of
    the untrained model that ``fit`` starts with, up the stack from this report. A callback's
    ``on_validation_epoch_end`` without Lightning's ``if trainer.sanity_checking`` guard
    reported that validation as ``epoch=1``, and ASHA stopped half the trials on an untrained
    model's accuracy on two batches (first-day test, round 50). Ray Tune's Lightning callback
    skips it. Every hook of the sanity check runs inside ``Trainer._run_sanity_check``."""
    if not any(name in sys.modules for name in LIGHTNING):
        return False
    frame = sys._getframe(2)  # above report()
    for _ in range(200):  # a validation_step's report is some 15 frames below it
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name == "_run_sanity_check" and "lightning" in code.co_filename:
            return bool(getattr(frame.f_locals.get("self"), "sanity_checking", False))
        frame = frame.f_back
    return False
