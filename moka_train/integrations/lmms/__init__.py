"""lmms-eval plugin: ``lmms-eval --model moka --model_args config=C.yaml,checkpoint=EXPORT``.

lmms-eval (0.7) reads the entry-point group ``lmms_eval.models``; ours (pyproject.toml) points at
:func:`manifest`, which names the model class by its import path so that lmms-eval imports it
(and torch) only when the model is used.
"""

from __future__ import annotations

MODEL_ID = "moka"


def manifest():
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id=MODEL_ID, simple_class_path="moka_train.integrations.lmms.model.MokaLMMS")
