"""Facts about DeepSpeed: initialize and init_inference return engines, which are modules."""

FACTS = {
    "functions": {
        "deepspeed.initialize": {"tuple": ["module:deepspeed.DeepSpeedEngine", "none", "none", "none"]},
        "deepspeed.init_inference": "module:deepspeed.InferenceEngine",
    },
    "classes": {
        "deepspeed.**.*Engine": "module",
    },
    "attributes": {
        "deepspeed.**.*Engine": {"module": "module"},
    },
}
