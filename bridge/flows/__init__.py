"""Multi-step ceremonies: each parks its steps on the server (application.flow_steps) and resumes.

A flow gets what it needs as a value (dependencies.SignInDependencies), calls the use cases of
bridge/application, and answers with one Outcome (outcomes.py) that the route turns into HTTP.
"""
