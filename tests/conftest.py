"""Shared test fixtures. Tests make their own small data; nothing touches the network.

``make test-fast`` runs the tests not marked ``slow``. Most slow tests carry the
mark themselves (``@pytest.mark.slow``, or a folder's conftest, as in
tests/distributed); the ones below are marked here, by name, so that the fast
subset stays under a minute. Measured with ``pytest --durations=0`` on 2 busy
cores (a test goes here above about 1.5 s, setup included); a module fixture
that builds a whole run or report marks every test that uses it. A test renamed
away from this list only makes the fast subset slower; its owner may move the
mark onto the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SLOW_TESTS: dict[str, set[str]] = {
    "tests/analysis/test_ablation.py": {
        "test_ablation_from_recorded_activations_equals_the_hooked_pass",
        "test_ablating_the_gate_unit",
    },
    "tests/analysis/test_behaviour.py": {"test_network_policy_plays_its_argmax", "test_rule_and_random_policies"},
    "tests/analysis/test_case.py": {"test_an_analysed_run_has_a_case_the_report_reads_whole"},
    "tests/analysis/test_matching.py": {
        "test_row_holds_the_primary_index_first_floors_baselines_and_the_recoded_control",
        "test_normal_limit_permutation_null_matches_exact_permutations",
        "test_untrained_indices_equal_a_captured_network_of_that_encoding",
    },
    "tests/analysis/test_paired.py": {
        "test_models_without_their_initial_checkpoint_are_left_out",
        "test_the_answer_and_the_control_that_decided_it",
        "test_changes_around_zero_are_not_an_increase",
        "test_training_nulls_are_compared_at_model_level",
    },
    "tests/analysis/test_pipeline.py": {"test_analyze_run_writes_tables_and_resumes", "test_cli_analyze"},
    "tests/experiments/test_rl.py": {
        "test_measures_of_scripted_play",
        "test_a_tiny_experiment_stamps_its_checkpoints_with_the_visited_states",
    },
    "tests/experiments/test_theory_rules2.py": {
        "test_logistic_fit_recovers_known_coefficients_and_the_rules_read_them",
        "test_clustered_errors_are_wider_than_naive_ones_when_datasets_differ",
    },
    "tests/game/test_scripted.py": {"test_rule_is_the_labelers_rule_on_frogs_turns"},
    "tests/report/test_competence_section.py": {
        "test_the_figure_2_claim_uses_the_case_models_competent_checkpoints_only",
        "test_no_competent_checkpoint_leaves_every_mirror_claim_not_established",
        "test_section_reads_the_planted_figures",
        "test_claims_count_competent_checkpoints_only",
    },
    "tests/report/test_html.py": {"test_a_reading_changes_with_its_data"},
    "tests/report/test_paired_section.py": {
        "test_the_section_comes_right_after_competence",
        "test_figure_2_view_starts_at_epoch_0_with_the_scale_free_curve",
        "test_section_reads_the_planted_models_and_states_the_floors",
        "test_figure_2_view_of_an_older_run_says_it_has_no_epoch_0",
    },
    "tests/report/test_paper_level.py": {
        "test_training_section_names_the_recipes_and_reads_the_threshold_for_the_papers_loss_only"
    },
    "tests/report/test_planted_section.py": {
        "test_the_report_shows_a_planted_folder",
        "test_section_reads_its_numbers",
    },
    "tests/test_cli_fuzz.py": {"test_bad_input_is_one_line_exit_2_and_leaves_nothing"},
    "tests/test_cli_vocabulary.py": {
        "test_data_prints_a_summary_not_a_dict",
        "test_train_and_sweep_train_with_the_threads_asked_for",
    },
    "tests/test_fuzz_files.py": {"test_mutated_manifest"},
    "tests/train/test_ppo.py": {
        "test_same_seed_same_weights_other_seed_other_weights",
        "test_resume_after_a_crash_gives_the_uninterrupted_weights",
    },
}
"""Module -> names of its slow test functions (every parameter of each)."""

SLOW_FIXTURES: dict[str, set[str]] = {
    "tests/experiments/test_planted_run.py": {"study"},
    "tests/report/test_html.py": {"inputs"},
    "tests/report/test_print_quality.py": {"gappy"},
    "tests/test_cli_fuzz.py": {"pristine"},
}
"""Module -> its fixtures that build a whole run or report: a test that uses one is slow."""

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        try:
            module = item.path.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            continue
        name = getattr(item, "originalname", item.name)
        if name in SLOW_TESTS.get(module, ()) or SLOW_FIXTURES.get(module, set()) & set(
            getattr(item, "fixturenames", ())
        ):
            item.add_marker(pytest.mark.slow)
