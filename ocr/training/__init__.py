"""Training code: synthetic data, distillation and trainers (imports torch; never imported by inference)."""
