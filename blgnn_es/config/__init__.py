"""The one declaration of every setting: run configs, study configs, baselines, protocol."""
