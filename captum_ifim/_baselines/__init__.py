"""The baselines behind Captum's interface: CAMs, DeepSHAP and what they need.

The CAM adapters (pytorch-grad-cam), DeepSHAP (shap), the copy of a model that shap
attributes exactly, the choice of a CAM's target layer and the forward functions bound
to per-sample extra arguments. Optional dependencies are imported when a method is built.
"""
