"""What an operator watches: Prometheus metrics, the request id, structured logs.

Below every layer that reports into it; it imports nothing of the bridge's own.
"""
