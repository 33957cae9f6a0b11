"""Facts about Hugging Face accelerate: Accelerator.prepare and unwrap_model."""

FACTS = {
    "classes": {
        "accelerate.**.Accelerator": "class",
    },
    "methods": {
        "accelerate.**.Accelerator": {"prepare": "args", "prepare_model": "arg:0", "unwrap_model": "arg:0"},
    },
}
