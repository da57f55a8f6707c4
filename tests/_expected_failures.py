"""Why an instance in scikit-learn's estimator checks is expected to fail one.

``expected_failed_checks`` of ``parametrize_with_checks`` in
``test_estimators.py`` and ``test_cnn.py``; each reason is a property of the
instance (its precision, its dropout), not a defect: other instances pass
the same check.
"""

#: check_sample_weight_equivalence_on_dense_data (and _on_sparse_data: the same
#: rows, densified batch by batch) on a float32 instance
FLOAT32_ROUNDING = (
    "float32: a row of weight k and its k copies are summed in another order, and "
    "after training the probabilities differ by about an ulp, above the check's "
    "rtol of 1e-7 (the float64 instances pass)")

#: check_sample_weight_equivalence_on_dense_data on ConvDigitClassifier() (float32, RMSprop)
FLOAT32_RMSPROP = (
    "float32: a row of weight k and its k copies give gradients that differ by "
    "rounding; where a gradient is rounding noise around zero (about 5e-10, in the "
    "Winograd layers, whose transforms round more than im2col), RMSprop, which "
    "divides each step by the root of the gradient's running mean square plus "
    "epsilon=1e-8, turns it into a step of up to a tenth of the learning rate, "
    "opposite in the two fits, and after the 10 epochs the probabilities differ "
    "by about 1e-3 (after 1 epoch they agree within the check's rtol of 1e-7; in "
    "float64, or with sgd, the instance passes; with adam, or im2col only, it "
    "misses by an ulp, as the dense float32 instances do)")

#: check_sample_weight_equivalence_on_dense_data (and _on_sparse_data) with dropout
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

#: check_class_weight_classifiers on PerceptronClassifier() (its default tol)
ONE_UNIT_STOPS_EARLY = (
    "two classes train one logistic unit (as in scikit-learn's MLPClassifier), whose "
    "bias the class weights move one Adam step per epoch of this single batch: with "
    "tol=1e-3 and n_iter_no_change=20 the loss stalls after about 150 epochs, before "
    "the unscaled blobs (std 20) are crossed, and 70 % of the test points go to class 0 "
    "where the check wants 87 % (with tol=1e-4 it trains 1000 epochs: 100 %)")
