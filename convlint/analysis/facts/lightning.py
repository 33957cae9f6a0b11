"""Facts about Lightning: LightningModule, Fabric's setup, and the hooks of a Callback."""

FACTS = {
    "classes": {
        "lightning.**.LightningModule": "module",
        "pytorch_lightning.**.LightningModule": "module",
        "lightning.**.Fabric": "class",
        "lightning.**.Callback": "class",
        "pytorch_lightning.**.Callback": "class",
    },
    "methods": {
        "lightning.**.Fabric": {"setup": "args", "setup_module": "arg:0"},
    },
    "overrides": {
        # every hook of a Callback is called with the trainer and the LightningModule
        "lightning.**.Callback": {"pl_module": "module"},
        "pytorch_lightning.**.Callback": {"pl_module": "module"},
    },
}
