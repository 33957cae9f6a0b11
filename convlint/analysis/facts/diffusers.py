"""Facts about diffusers: model classes, pipelines and their components."""

FACTS = {
    "classes": {
        "diffusers.**.*Model": "module",
        "diffusers.**.*ModelMixin": "module",
        "diffusers.**.Autoencoder*": "module",
        "diffusers.**.*Pipeline": "class",
    },
    "methods": {
        "diffusers.**.*Pipeline": {"from_pretrained": "instance", "from_single_file": "instance", "to": "self"},
        "diffusers.**": {"from_pretrained": "instance", "from_config": "instance", "from_single_file": "instance"},
    },
    "attributes": {
        "diffusers.**.*Pipeline": {
            "unet": "module",
            "vae": "module",
            "text_encoder": "module",
            "text_encoder_2": "module",
            "text_encoder_3": "module",
            "transformer": "module",
            "controlnet": "module",
            "safety_checker": "module",
            "image_encoder": "module",
            "prior": "module",
            "decoder": "module",
            "movq": "module",
        },
    },
}
