"""Multi-step ceremonies: each parks its state in the browser's signed session and resumes."""
