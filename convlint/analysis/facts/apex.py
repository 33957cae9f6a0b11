"""Facts about NVIDIA apex: amp.initialize, its DDP and SyncBN conversion."""

FACTS = {
    "functions": {
        # amp.initialize(model, optimizer) returns them (transformed) as a tuple; one: itself.
        "apex.amp.initialize": "args",
        "apex.parallel.convert_syncbn_model": "arg:0",
    },
    "classes": {
        "apex.parallel.DistributedDataParallel": "module",
    },
}
