"""The FastAPI serving app, identical behind a Function URL, API Gateway or uvicorn."""
