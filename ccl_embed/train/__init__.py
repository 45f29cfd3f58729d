"""Training: frozen feature towers, the feature cache, baselines, CCL's training loop and evaluation.

Needs the ``train`` extra: pip install torch==2.13.0 'ccl-embed[train]'. Imports point one way:
train -> model -> torch, and train -> runtime; nothing below imports this package.
"""

from ccl_embed.train.finetune import FineTuned, fine_tune
from ccl_embed.train.folder_data import read_training_folder
from ccl_embed.train.pipeline import Evaluation, TrainedModel, evaluate, require_training, train_model

__all__ = ["Evaluation", "FineTuned", "TrainedModel", "evaluate", "fine_tune", "read_training_folder", "require_training",
           "train_model"]
