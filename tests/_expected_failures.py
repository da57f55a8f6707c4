"""Why an instance in scikit-learn's estimator checks is expected to fail one.

``expected_failed_checks`` of ``parametrize_with_checks`` in
``test_estimators.py`` and ``test_cnn.py``; each reason is a property of the
instance (its precision, its dropout), not a defect: other instances pass
the same check.
"""

#: check_sample_weight_equivalence_on_dense_data on a float32 instance
FLOAT32_ROUNDING = (
    "float32: a row of weight k and its k copies are summed in another order, and "
    "after training the probabilities differ by about an ulp, above the check's "
    "rtol of 1e-7 (the float64 instances pass)")

#: check_sample_weight_equivalence_on_dense_data with dropout
DROPOUT_MASKS = (
    "dropout draws a mask per row of the batch: k copies of a row get k masks, a "
    "row of weight k one, so they agree in expectation only (the instances without "
    "dropout pass)")

#: check_class_weight_classifiers with dropout
DROPOUT_STOPS_EARLY = (
    "with dropout the training loss of these noisy, unscaled blobs is noisy too and "
    "n_iter_no_change=20 stops training after 60-150 epochs, before the class "
    "weights have moved the boundary (trained 1000 epochs it predicts class 0 "
    "everywhere; the instances without dropout pass)")
