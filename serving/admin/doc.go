// Package admin is the queryable state of a scoring service, as an
// http.Handler that applications mount on their own server.
//
// # Endpoints
//
//   - GET /models: the live version of every model name with its
//     statistics (invocations, errors, total, min, max and mean call
//     time, and since when it is live), as JSON.
//   - GET /models/{name}: the same for one name; 404 if none is live.
//     name is one path segment, escaped as by url.PathEscape: a name
//     holding '/' is addressed with %2F (/models/team%2Ffraud), and a
//     name "." or ".." as %2E or %2E%2E.
//   - GET /models/{name}/history: the activations, rollbacks and
//     retirements the Server remembers for name, oldest first.
//   - GET /healthz: 200 while the process can answer at all (liveness).
//   - GET /readyz: 200 when the service should receive traffic: every
//     required model name has a live version (or, with none required, at
//     least one model is live) and every readiness check passes; 503 with
//     the reasons otherwise.
//   - GET /metrics: the Prometheus handler, when one is given.
//   - GET /: the operator's page, one server-rendered HTML document
//     with no script that reloads itself every 5 seconds: for each
//     model its live version, calls and errors, recent history, each
//     rollout's steps, traffic shares and decisions with a chart of the
//     candidate's share, and its live quality per version and variant
//     with 95% intervals drawn as inline SVG. Its links to /models/{name}
//     are relative to the page, so they hold under a mount prefix.
//   - GET /quality: with [Quality], the live quality of every model
//     version and variant (accuracy, log-loss, AUC, MAE, RMSE, each with
//     its count and 95% interval), from ground truth joined to the
//     scores; /models shows each model's own.
//   - GET /rollouts: with [Rollouts], every automated rollout's steps,
//     current share and decisions with their evidence; /models shows the
//     rollouts of each model.
//
// # Readiness
//
// A scoring instance is ready when it has a model and its consumer group
// has joined. The second half belongs to serving/kafka, so it comes in as
// a [Check]: a function that returns nil when ready.
package admin
