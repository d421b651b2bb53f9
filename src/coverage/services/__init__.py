"""The services: what the CLI, the flows and the web app call. Each opens the unit of work it is
given, loads a course, makes one move of the domain (:mod:`coverage.requests.model`) and commits."""
