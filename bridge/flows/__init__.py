"""Multi-step ceremonies: each parks its steps on the server (services.flow_state) and resumes."""
