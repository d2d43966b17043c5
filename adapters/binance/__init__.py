"""The exchange adapter on python-binance: client set-up per mode, the REST governor, the
gateway the executor and reconciler use, payload parsing into facts, and safe websockets."""
