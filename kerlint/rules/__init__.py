"""The rule registry: every rule module, found by code."""

from __future__ import annotations

from kerlint.rules import (
    kl001_trainable_changed_after_training,
    kl002_training_frozen_model,
    kl003_batchnorm_unfrozen,
    kl004_freeze_has_no_effect,
    kl005_gradients_over_all_weights,
    kl006_optimizer_reused_after_trainable_change,
    kl007_trainable_weights_mutated,
    kl008_trainable_not_bool,
    kl009_trainable_misspelled,
    kl010_trainable_compared_not_assigned,
    kl011_trainable_changed_during_fit,
    kl012_unfreeze_under_frozen_submodel,
    kl013_trainable_changed_after_compile,
    kl014_optimizer_shared_between_models,
    kl015_trainable_toggled_around_compile,
    kl016_weight_name_filter,
    kl017_trainable_reassert_noop,
    kl101_probability_output_from_logits,
    kl102_crossentropy_on_non_probability_output,
    kl103_threshold_metric_on_logits,
    kl104_double_output_activation,
    kl105_single_unit_categorical_crossentropy,
    kl106_softmax_over_one_unit,
    kl107_accuracy_on_multilabel_output,
    kl108_preprocess_input_mismatch,
    kl109_rescaled_input_to_self_normalizing_application,
    kl110_validation_split_on_ordered_data,
    kl111_linear_stack,
    kl900_unused_noqa,
)
from kerlint.rules.base import Rule

PARSE_ERROR = "KL000"

_MODULES = (
    kl001_trainable_changed_after_training,
    kl002_training_frozen_model,
    kl003_batchnorm_unfrozen,
    kl004_freeze_has_no_effect,
    kl005_gradients_over_all_weights,
    kl006_optimizer_reused_after_trainable_change,
    kl007_trainable_weights_mutated,
    kl008_trainable_not_bool,
    kl009_trainable_misspelled,
    kl010_trainable_compared_not_assigned,
    kl011_trainable_changed_during_fit,
    kl012_unfreeze_under_frozen_submodel,
    kl013_trainable_changed_after_compile,
    kl014_optimizer_shared_between_models,
    kl015_trainable_toggled_around_compile,
    kl016_weight_name_filter,
    kl017_trainable_reassert_noop,
    kl101_probability_output_from_logits,
    kl102_crossentropy_on_non_probability_output,
    kl103_threshold_metric_on_logits,
    kl104_double_output_activation,
    kl105_single_unit_categorical_crossentropy,
    kl106_softmax_over_one_unit,
    kl107_accuracy_on_multilabel_output,
    kl108_preprocess_input_mismatch,
    kl109_rescaled_input_to_self_normalizing_application,
    kl110_validation_split_on_ordered_data,
    kl111_linear_stack,
    kl900_unused_noqa,
)
_RULES: tuple[Rule, ...] = tuple(module.RULE for module in _MODULES)
_BY_CODE = {rule.code: rule for rule in _RULES}


class registry:
    @staticmethod
    def all_rules() -> tuple[Rule, ...]:
        return _RULES

    @staticmethod
    def get(code: str) -> Rule | None:
        return _BY_CODE.get(code)
