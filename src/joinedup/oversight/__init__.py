"""System oversight: indicators, statistical process control, the dashboard and board report."""
