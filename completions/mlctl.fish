# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mlctl_global_optspecs
    string join \n endpoint= token= data-dir= o/output= h/help V/version
end

function __fish_mlctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mlctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mlctl_using_subcommand
    set -l cmd (__fish_mlctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mlctl -n "__fish_mlctl_needs_command" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_needs_command" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_needs_command" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_needs_command" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_needs_command" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_needs_command" -s V -l version -d 'Print version'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "serve" -d 'Run the gateway: V2 inference (ONNX in-process or upstream), admin API, logs, metrics'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "deploy" -d 'Register a model version and route live traffic to it'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "predict" -d 'Send V2 inference requests (JSON, JSONL or CSV rows) and print the outputs'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "loadtest" -d 'Load-test an inference endpoint (or any HTTP URL): constant rate or fixed concurrency, coordinated-omission-correct latency, per-variant breakdown, SLO gates'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "status" -d 'Show models, versions, weights, rollout state and guard values'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "promote" -d 'Finish a rollout: the candidate (or --to arm) becomes stable'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "pause" -d 'Hold a rollout at its current weights (timers stop)'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "resume" -d 'Continue a paused rollout (the step timer restarts)'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "approve" -d 'Open a rollout\'s manual gate (--gate manual): its last step may promote'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "rollback" -d 'Route 100% to the stable version (or --to V) at once; recorded with who and why'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "history" -d 'The audit log of a model: every transition with its evidence'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "abtest" -d 'A/B/n significance on logged outcomes, and experiment planning'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "drift" -d 'Compare live data with a training baseline (output and input drift)'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "guards" -d 'Rollout guards on logged traffic: what a guard set would have decided, and how often it trips on identical arms'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "features" -d 'The feature store in the data dir: load tables, look values up, build point-in-time training sets from a feature view'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "skew" -d 'Training/serving skew: served features (the gateway\'s log) against offline rows'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "monitor" -d 'Watching deployed models: Prometheus alerting rules over mlctl\'s metrics'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "demo" -d 'Start an embedded gateway and play a rollout story: a bad canary rolled back, a good one promoted'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "man" -d 'Print the man page (roff)'
complete -c mlctl -n "__fish_mlctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l listen -d 'Address to listen on (port 0 picks a free port; the bound address is printed)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l grpc-listen -d 'Also serve V2 over gRPC (KServe/Triton GRPCInferenceService) on this address, e.g. 127.0.0.1:8081 (port 0 picks a free port; the bound address is printed)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l max-body -d 'Largest inference or outcome request body, e.g. 8MiB, 512KiB, 1048576' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l max-blob -d 'Largest model upload on /admin/v1/blobs' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l log-inputs -d 'Share of requests whose inputs are written to the prediction log (0 to 1)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l feature-store -d 'The online store feature views read: a shared Redis (redis://host:port[/db]; a password belongs in the environment variable, not the command line) [default: embedded, the data dir\'s features.db]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l feature-timeout -d 'Longest wait for the feature store on a request (then on_store_error applies)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l log-features -d 'Share of feature-view requests whose assembled features are logged (0 to 1)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l log-flush -d 'Longest time a log record waits in memory before it is written' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l log-fsync -d 'Longest time a written log record waits for fsync' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l upstream-timeout -d 'Default timeout for upstream V2 servers (per version override: deploy --timeout)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l inference-threads -d 'Concurrent in-process inferences [default: number of cores]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l controller-tick -d 'How often the rollout controller evaluates guards and step timers' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l token-file -d 'Read the admin token from this file (first line). Precedence: --token-file, then --token / MLCTL_TOKEN, then <data-dir>/token (created with a random token)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l max-connections -d 'Connections served at once; a few more are kept for health and admin calls' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l idle-timeout -d 'Longest wait for a request\'s headers, on a new or a kept-alive connection; idle and half-sent connections are closed after it' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l body-timeout -d 'Longest time to receive a request body (408 after it)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l load-timeout -d 'Longest time a model may take to load on deploy (the deploy fails past it; the gateway and rollbacks never wait for a load)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l max-response -d 'Largest answer read from an upstream V2 server (502 past it)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l max-inflight-bytes -d 'Inference request bytes served at once; past it, 503 with Retry-After (each JSON byte costs ~20 in memory while it is parsed)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l on-log-failure -d 'While the prediction log cannot be written (disk full, unwritable): `serve` keeps answering (ready reports it under `degraded`; lost records are counted in mlctl_log_dropped_total), `refuse` answers inference and ready with 503' -r -f -a "serve\t'Keep answering; records are counted as dropped; ready stays 200 with `degraded`'
refuse\t'Answer inference with 503 and ready with 503 until the log writes again'"
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l notify -d 'POST every rollout transition of every model to this URL (repeatable; signed; a Slack incoming-webhook URL, or slack+URL, gets Slack\'s text format)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l notify-secret-file -d 'File with the webhook signing secret (X-Mlctl-Signature: sha256=HMAC(secret, body)) [default: <data-dir>/notify-secret, created on first start]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l notify-retry-for -d 'How long one webhook message is retried (exponential backoff) before it is given up' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l state -d 'Where the state lives: `sqlite` (the data dir\'s mlctl.db, one gateway) or a PostgreSQL database shared by several replicas (postgres://user@host:port/db; put a password in MLCTL_STATE, not on the command line)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l replica-id -d 'This replica\'s id among those sharing --state (letters, digits, . _ -) [default: <hostname>-<port>]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l advertise -d 'The address other replicas and `mlctl status` show for this one [default: the bound address]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -l require-token-for-inference -d 'Require the bearer token on inference endpoints too'
complete -c mlctl -n "__fish_mlctl_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l version -d 'Version label, e.g. 2 or 2026-11-27' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -s f -l file -d 'A rollout file (YAML) holding what the flags hold, one key per flag (model, version, onnx, strategy, steps, guards, gates, notify, match, …); only --wait and --reason may be added on the command line' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l onnx -d 'ONNX file to serve in-process' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l upstream -d 'V2 server to proxy to: base URL (http://, https://, or grpc://host:port for V2 over gRPC), or a full .../v2/models/NAME[/versions/V] URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l features -d 'Feature view (TOML): the model\'s input is assembled from request fields and feature-store lookups (see `mlctl features`); requests then carry only those fields' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l timeout -d 'Timeout for the upstream (with --upstream)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l strategy -d 'Rollout strategy' -r -f -a "single\t'100% at once; guards watch for --watch-for and roll back on a trip'
shadow\t'0% live: requests are mirrored to the candidate and compared (silent mode)'
canary\t'Stepped weights (--steps) with analysis at each step end'
flight\t'Fixed weights for N arms (--weights) until promote or rollback'"
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l steps -d 'Canary step weights in percent, ending at 100' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l interval -d 'Canary step length' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l weights -d 'Flight weights over registered versions, e.g. stable=50,2=25,3=25' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l guard -d 'Guard (repeatable): error_rate<0.01, p99_ms<50 (p95_ms, p50_ms), shadow_agreement>0.98, drift_psi<0.2, outcome:METRIC>=control, min_requests=500' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l mirror-pct -d 'Shadow: share of requests mirrored to the candidate (0-100)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l tolerance -d 'Shadow: |Δ| within which regression outputs agree' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l watch-for -d 'Single: how long guards watch after the switch [default: 10m when guards are given]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l alpha -d 'Significance level of outcome guards' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l baseline -d 'Training baseline profile (`mlctl drift baseline`) that drift_psi compares the candidate\'s scores with [default: the stable version\'s scores]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l baseline-column -d 'The numeric profile column holding the model\'s score [default: the only numeric one]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l reason -d 'Why (recorded in the audit log)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l on-trip -d 'What a tripped guard (or a sample-ratio mismatch) does: roll back, or pause for an operator' -r -f -a "rollback\t'100% back to the stable version at once'
pause\t'Hold the current weights for an operator (`resume`, `promote` or `rollback`)'"
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l max-step-extensions -d 'A canary step (or single\'s watch) whose time is up while a guard is still deciding is extended by one more interval this many times, then paused as inconclusive' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l notify -d 'POST each transition of this rollout to this URL (repeatable; signed with the gateway\'s notify secret; Slack incoming webhooks get Slack\'s text format)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l gate -d 'A check the rollout waits for (repeatable): pre-rollout=URL (2xx or it does not start, exit 1), pre-step=URL (before each weight increase), confirm-promotion=URL (holds the last step until 2xx), manual (holds the last step until `mlctl approve`)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l gate-timeout -d 'How long a refusing pre-step gate holds a step before --on-trip applies' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l match -d 'Send requests whose header or cookie matches to the candidate at any weight (repeatable, any one matching): header:x-tenant=internal, cookie:beta=1, header:x-user-id~^emp- (regex). Canary and flight' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l prometheus -d 'Prometheus base URL that prom:QUERY<X guards are asked (checked when the rollout starts). {{candidate}}, {{stable}} and {{model}} in queries are substituted' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l prom-interval -d 'How often prom: guards are queried' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l wait -d 'Follow the rollout; exit 0 when promoted, 1 when rolled back or paused'
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l allow-signature-change -d 'Route traffic to this version even though its inputs or outputs differ from the live version\'s (refused otherwise: clients sending the old shape would break)'
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l dry-run-guards -d 'Evaluate every guard and record what it would have done in the history, but never act on it (the rollout proceeds on its timer)'
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -l guard-include-matched -d 'Count matched requests in the guards\' windows (they are not a random sample, so by default they are left out)'
complete -c mlctl -n "__fish_mlctl_using_subcommand deploy" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -l input -d 'Request file: .json (one V2 request), .jsonl (one per line) or .csv (rows of features)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -l version -d 'Ask a specific version (bypasses routing)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -l key -d 'Routing key (x-mlctl-key), for sticky assignment' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand predict" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l model -d 'Load the V2 infer endpoint of this model on --endpoint' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l version -d 'With --model: a specific version (bypasses routing)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l method -d 'HTTP method [default: POST with a body, else GET]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -s H -l header -d 'Extra request header (repeatable), e.g. \'authorization: Bearer X\'' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l body -d 'Request body: a string, or @FILE' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l input -d 'Request bodies, cycled: .jsonl (one V2 request per line), .json (one request) or .csv (feature rows → V2 tensors, needs --model)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l batch -d 'CSV rows per request' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l routing-keys -d 'Spread requests over N routing keys (x-mlctl-key), so weighted rollouts are exercised' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l rate -d 'Open loop: requests per second on a fixed timetable, e.g. 500/s' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -s c -l concurrency -d 'Closed loop: this many workers, each sending when its last answer arrived' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -s n -l requests -d 'Closed loop: stop after this many measured requests (instead of --duration)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -s d -l duration -d 'Measured time (per rate with --sweep)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l warmup -d 'Load before measuring, excluded from the results' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l sweep -d 'Open-loop rates to run in turn, e.g. 100,200,400,800/s; reports the highest that meets the SLOs' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l connections -d 'Open loop: most connections (requests in flight) [default: 64]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l grpc -d 'Send the V2 requests as gRPC ModelInfer calls to this address (host:port of `serve --grpc-listen` or any V2 gRPC server); the model comes from --model or the URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l timeout -d 'Longest wait for one answer; also how long due requests may still go out after the window' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l slo -d 'Gate (repeatable): p50|p90|p95|p99|p999|max|mean<20ms, error_rate<0.001, rps>=450, errors<=N; exit 1 when one fails' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l save-hdr -d 'Write the latency histogram, one interval per second, in HdrHistogram log format (with --sweep, one file per rate: run.200.hlog, …)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -l http2 -d 'Speak HTTP/2 over cleartext (h2c, prior knowledge) instead of HTTP/1.1: one stream in flight per connection'
complete -c mlctl -n "__fish_mlctl_using_subcommand loadtest" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand status" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand status" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand status" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand status" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand status" -l watch -d 'Refresh every 2 seconds until interrupted'
complete -c mlctl -n "__fish_mlctl_using_subcommand status" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand promote" -l to -d 'Flight: the arm (version) to promote' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand promote" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand promote" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand promote" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand promote" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand promote" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand pause" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand pause" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand pause" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand pause" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand pause" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand resume" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand resume" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand resume" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand resume" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand resume" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand approve" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand approve" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand approve" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand approve" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand approve" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand rollback" -l to -d 'Route to this version instead of the rollout\'s stable one' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand rollback" -l reason -d 'Why (recorded in the audit log)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand rollback" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand rollback" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand rollback" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand rollback" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand history" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand history" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand history" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand history" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand history" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -f -a "analyze" -d 'Compare arms on binary, mean and ratio metrics from CSV/JSONL files or gateway logs'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -f -a "plan" -d 'Sample size (or detectable effect) for an experiment'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and not __fish_seen_subcommand_from analyze plan help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l from-gateway -d 'Read the gateway\'s prediction and outcome logs (its data dir or logs dir) instead' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l model -d 'With --from-gateway: the model whose versions are the arms' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l since -d 'With --from-gateway: only records newer than this, e.g. 7d, 12h' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l arm-col -d 'Column naming each row\'s arm' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l metric -d 'Metric: col:binary, col:mean, num/den:ratio or name:ratio=num/den (repeatable)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l unit-col -d 'Aggregate rows per unit (user) first: binary = any, mean = sum, ratio = sums' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l control -d 'Control arm [default: "control" or "stable" if present, else the first seen]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l alpha -d 'Significance level' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l method -d 'fixed (z / Welch t / delta method) or sequential (always-valid, peeking-safe)' -r -f -a "fixed\t'Fixed-horizon tests (z for proportions, Welch t for means, delta method for ratios)'
sequential\t'Always-valid normal-mixture confidence sequences (safe under continuous peeking)'"
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l tune-n -d 'Tuning sample size N* of the sequential confidence sequence' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l cuped-col -d 'Pre-period covariate column for CUPED variance reduction (mean metrics)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l correction -d 'Multiple-comparison correction over all metric × arm comparisons' -r -f -a "holm\t''
bh\t''
none\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l expected-split -d 'Expected traffic split for the sample-ratio check, e.g. control=50,b=50 [default: equal]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l min-n -d 'Arms with fewer units than this get "insufficient data", never a verdict' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l fail-on -d 'Exit 1 when a metric is significantly worse than control' -r -f -a "regression\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -l ignore-srm -d 'Report results even when the sample-ratio check fails (otherwise exit 4)'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from analyze" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l baseline-rate -d 'Baseline conversion rate (binary metric), e.g. 0.05' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l baseline-mean -d 'Baseline mean (mean metric); needs --sd' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l sd -d 'Standard deviation of the mean metric' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l mde -d 'Minimum detectable effect: relative (2%) or absolute (0.01)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l n -d 'Units per arm you can get: report the detectable effect instead' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l power -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l alpha -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l arms -d 'Number of arms including control (alpha is split over arms − 1 comparisons)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l daily-traffic -d 'Units per day across all arms, to estimate the duration' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from plan" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from help" -f -a "analyze" -d 'Compare arms on binary, mean and ratio metrics from CSV/JSONL files or gateway logs'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from help" -f -a "plan" -d 'Sample size (or detectable effect) for an experiment'
complete -c mlctl -n "__fish_mlctl_using_subcommand abtest; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -f -a "baseline" -d 'Profile training data or predictions into a baseline JSON (one streaming pass)'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -f -a "check" -d 'Compare data with a baseline: per-column statistic, threshold, drift flag; exit 1 on dataset drift'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and not __fish_seen_subcommand_from baseline check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l out -d 'Where to write the profile' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l columns -d 'Columns to profile, comma-separated [default: all]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l numeric -d 'Treat these columns as numeric (comma-separated)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l categorical -d 'Treat these columns as categorical (comma-separated)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l bins -d 'Equal-frequency bins per numeric column' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l sample -d 'Values kept per numeric column for KS and Wasserstein' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l merge -d 'Merge existing profiles instead of reading data' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from baseline" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l from-gateway -d 'Read the gateway\'s prediction log (its data dir or logs dir) instead: outputs become columns (label, probabilities[1], …; inputs as input:NAME[j] where logged), plus ts' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l model -d 'With --from-gateway: the model' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l version -d 'With --from-gateway: only this version\'s answers' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l since -d 'With --from-gateway: only requests newer than this, e.g. 1h' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l baseline -d 'The baseline profile (from `drift baseline`)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l columns -d 'Columns to check, comma-separated [default: every profiled column]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l method -d 'auto (Evidently\'s choice by size), or force psi, ks, wasserstein, chisquare, js' -r -f -a "auto\t''
psi\t''
ks\t''
wasserstein\t''
chisquare\t''
js\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l threshold -d 'Per-column threshold, e.g. score=0.2 (repeatable or comma-separated)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l drift-share -d 'Share of drifted columns that makes the dataset drifted' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l window -d 'Also judge consecutive windows of this length (needs --time-col), e.g. 1h' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l time-col -d 'Column with each row\'s time (RFC 3339 or epoch seconds), for --window' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l report -d 'Write a self-contained HTML report (inline SVG charts) here' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from help" -f -a "baseline" -d 'Profile training data or predictions into a baseline JSON (one streaming pass)'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from help" -f -a "check" -d 'Compare data with a baseline: per-column statistic, threshold, drift flag; exit 1 on dataset drift'
complete -c mlctl -n "__fish_mlctl_using_subcommand drift; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and not __fish_seen_subcommand_from backtest help" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and not __fish_seen_subcommand_from backtest help" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and not __fish_seen_subcommand_from backtest help" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and not __fish_seen_subcommand_from backtest help" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and not __fish_seen_subcommand_from backtest help" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and not __fish_seen_subcommand_from backtest help" -f -a "backtest" -d 'Replay the gateway\'s prediction and outcome logs through guards, step by step: a real rollout\'s steps (--last-rollout), fixed steps between two versions (--stable/--candidate), or A/A steps of the stable version split by routing bucket (--aa; exit 1 when the false-trip rate exceeds --alpha)'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and not __fish_seen_subcommand_from backtest help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l model -d 'The model whose logs are replayed (read from the data dir\'s logs and history)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l guard -d 'A guard expression, as `deploy --guard` [default with --last-rollout: its guards]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l stable -d 'The control version [default: the version with the most logged requests]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l candidate -d 'The candidate version (fixed steps between two versions)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l from -d 'First log time replayed (RFC 3339) [default: the first record]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l to -d 'Last log time replayed (RFC 3339) [default: the last record]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l step -d 'Length of each simulated step' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l tick -d 'Evaluate the guards every this much log time (the controller\'s tick)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l alpha -d 'Significance level of the guards, and the largest acceptable A/A false-trip rate' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l last-rollout -d 'Replay the model\'s last rollout on its own steps, next to what the controller decided'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -l aa -d 'A/A: split the stable version\'s own traffic into two pseudo-arms by routing-key bucket and estimate the guard set\'s false-trip rate'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from backtest" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from help" -f -a "backtest" -d 'Replay the gateway\'s prediction and outcome logs through guards, step by step: a real rollout\'s steps (--last-rollout), fixed steps between two versions (--stable/--candidate), or A/A steps of the stable version split by routing bucket (--aa; exit 1 when the false-trip rate exceeds --alpha)'
complete -c mlctl -n "__fish_mlctl_using_subcommand guards; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -f -a "load" -d 'Load a CSV table (gzip or zstd too) or a Parquet file as a new snapshot of TABLE, switched in atomically'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -f -a "get" -d 'The latest value of each column for entity KEY(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -f -a "ls" -d 'The tables in the store: columns, entities, values, newest event time'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -f -a "join" -d 'A point-in-time training set: each spine row gets the view\'s features as they were at its time (no value from its future), else the view\'s defaults'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and not __fish_seen_subcommand_from load get ls join help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -l from -d 'CSV file: a key column, an optional event-time column, numeric feature columns' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -l key -d 'The column with the entity id' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -l ts-col -d 'The column with each row\'s event time (RFC 3339 or Unix seconds) [default: now]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -l feature-store -d 'Also load the latest values into this shared online store (redis://host:port[/db]; the data dir keeps the history for `features join`)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from load" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from get" -l feature-store -d 'Read the shared online store (redis://…) instead of the data dir\'s' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from get" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from get" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from get" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from get" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from ls" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from ls" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from ls" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from ls" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l spine -d 'Events: a CSV with entity ids, an event-time column and any request fields' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l key -d 'The spine column with the entity id [default: each lookup\'s `key` in the view]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l at -d 'The spine column with each event\'s time (RFC 3339 or Unix seconds)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l view -d 'The feature view (TOML)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l out -d 'Where to write the training set (CSV)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from join" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from help" -f -a "load" -d 'Load a CSV table (gzip or zstd too) or a Parquet file as a new snapshot of TABLE, switched in atomically'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from help" -f -a "get" -d 'The latest value of each column for entity KEY(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from help" -f -a "ls" -d 'The tables in the store: columns, entities, values, newest event time'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from help" -f -a "join" -d 'A point-in-time training set: each spine row gets the view\'s features as they were at its time (no value from its future), else the view\'s defaults'
complete -c mlctl -n "__fish_mlctl_using_subcommand features; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and not __fish_seen_subcommand_from check help" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and not __fish_seen_subcommand_from check help" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and not __fish_seen_subcommand_from check help" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and not __fish_seen_subcommand_from check help" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and not __fish_seen_subcommand_from check help" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and not __fish_seen_subcommand_from check help" -f -a "check" -d 'Pair the features the gateway served (its prediction log) with the offline rows of the same requests or entities; per feature: match share, differences, missing and defaulted shares, PSI. Exit 1 when a feature\'s mismatch share exceeds --max-mismatch'
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and not __fish_seen_subcommand_from check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l view -d 'The feature view (TOML) whose features are compared' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l offline -d 'The offline rows (CSV or JSONL, gzip too): the key column and the view\'s features' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l from-gateway -d 'The gateway\'s data dir (or its logs dir)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l model -d 'The model whose served features are read' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l since -d 'Only requests newer than this, e.g. 1d' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l key -d 'Pair by `request_id`, or by an entity field of the view (the offline file\'s last row of each entity)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l tolerance -d 'Largest absolute difference that still matches' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l max-mismatch -d 'A feature is skewed when more than this share of pairs mismatch (0 to 1)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l report -d 'Also write a self-contained HTML report' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from help" -f -a "check" -d 'Pair the features the gateway served (its prediction log) with the offline rows of the same requests or entities; per feature: match share, differences, missing and defaulted shares, PSI. Exit 1 when a feature\'s mismatch share exceeds --max-mismatch'
complete -c mlctl -n "__fish_mlctl_using_subcommand skew; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "rules" -d 'Print Prometheus alerting rules (YAML) for rollbacks, pauses, error rate, p99 latency, a failing prediction log and failing webhooks'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "dashboard" -d 'Print a Grafana dashboard (JSON) over mlctl\'s metrics, with a $model variable'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "add" -d 'Watch a model inside the gateway: its outputs (and sampled inputs) against a training baseline, window by window; alert after --consecutive drifted windows'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "ls" -d 'The gateway\'s monitors: columns, windows, alert state'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "rm" -d 'Remove a monitor (and its window history)'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "status" -d 'A monitor\'s finished windows: per column statistic and verdict'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "quality" -d 'Model quality from late labels: outcomes joined to their predictions in the gateway\'s logs, scored per version and prediction-time window (accuracy, precision, recall, ROC AUC, log loss; MAE, RMSE for regressors)'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and not __fish_seen_subcommand_from rules dashboard add ls rm status quality help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -l error-rate -d 'Alert when a version\'s error share over --window exceeds this' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -l p99-ms -d 'Alert when a version\'s p99 latency over --window exceeds this many milliseconds' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -l window -d 'Rate window of the error-rate and latency rules' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -l for -d 'How long the error-rate and latency conditions must hold before firing' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rules" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from dashboard" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from dashboard" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from dashboard" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from dashboard" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from dashboard" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l baseline -d 'The training baseline profile (`mlctl drift baseline`), e.g. of the training predictions (columns named like the outputs: label, probabilities[1], …)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l columns -d 'Columns to watch [default: every baseline column]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l window -d 'Window length' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l method -d 'Statistic per column (auto: KS / χ² up to 1000 rows a window, Wasserstein / JS above)' -r -f -a "auto\t''
psi\t''
ks\t''
wasserstein\t''
chisquare\t''
js\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l threshold -d 'Per-column threshold, col=X (repeatable; a p-value level for tests, a distance otherwise)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l consecutive -d 'Drifted windows in a row that fire the alert (and clean ones that resolve it)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l retention -d 'How long finished windows are kept' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l notify -d 'Webhook for this monitor\'s alerts (repeatable; slack+URL, alertmanager+URL too)' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l quality -d 'A quality requirement on late labels, e.g. \'auc>=0.75\' (repeatable; needs --quality-metric): alerts like drift, per prediction-time window' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l quality-metric -d 'The outcome metric (posted to /v1/outcomes) holding the true label' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l quality-window -d 'Prediction-time window of the quality requirements [default: --window]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l quality-min-pairs -d 'Labelled predictions a window needs before it is judged' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from ls" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from ls" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from ls" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from ls" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rm" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rm" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rm" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rm" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from status" -l last -d 'How many of the last windows' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from status" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from status" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from status" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from status" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l metric -d 'The outcome metric holding the true label (classifiers: 0/1) or target' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l since -d 'Only predictions newer than this, e.g. 30d' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l window -d 'Prediction-time window' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l version -d 'Only this version' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l from-gateway -d 'The gateway\'s data dir (or its logs dir) [default: --data-dir]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l require -d 'A floor or ceiling the latest window of each version must meet, e.g. \'auc>=0.75\', \'log_loss<=0.5\' (repeatable); exit 1 when one does not' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l report -d 'Also write a self-contained HTML report (a timeline per metric)' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from quality" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "rules" -d 'Print Prometheus alerting rules (YAML) for rollbacks, pauses, error rate, p99 latency, a failing prediction log and failing webhooks'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "dashboard" -d 'Print a Grafana dashboard (JSON) over mlctl\'s metrics, with a $model variable'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "add" -d 'Watch a model inside the gateway: its outputs (and sampled inputs) against a training baseline, window by window; alert after --consecutive drifted windows'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "ls" -d 'The gateway\'s monitors: columns, windows, alert state'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a monitor (and its window history)'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "status" -d 'A monitor\'s finished windows: per column statistic and verdict'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "quality" -d 'Model quality from late labels: outcomes joined to their predictions in the gateway\'s logs, scored per version and prediction-time window (accuracy, precision, recall, ROC AUC, log loss; MAE, RMSE for regressors)'
complete -c mlctl -n "__fish_mlctl_using_subcommand monitor; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand demo" -l seed -d 'Seed for the generated traffic' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand demo" -l keep -d 'Keep the demo\'s data dir here instead of a temporary one' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand demo" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand demo" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand demo" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand demo" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand demo" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand completions" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand completions" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand completions" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand completions" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand man" -l endpoint -d 'Gateway base URL' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand man" -l token -d 'Admin bearer token [default: the token file in the data dir]' -r
complete -c mlctl -n "__fish_mlctl_using_subcommand man" -l data-dir -d 'State directory [default: $XDG_STATE_HOME/mlctl, else ~/.local/state/mlctl]' -r -F
complete -c mlctl -n "__fish_mlctl_using_subcommand man" -s o -l output -d 'Report format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c mlctl -n "__fish_mlctl_using_subcommand man" -s h -l help -d 'Print help'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "serve" -d 'Run the gateway: V2 inference (ONNX in-process or upstream), admin API, logs, metrics'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "deploy" -d 'Register a model version and route live traffic to it'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "predict" -d 'Send V2 inference requests (JSON, JSONL or CSV rows) and print the outputs'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "loadtest" -d 'Load-test an inference endpoint (or any HTTP URL): constant rate or fixed concurrency, coordinated-omission-correct latency, per-variant breakdown, SLO gates'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "status" -d 'Show models, versions, weights, rollout state and guard values'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "promote" -d 'Finish a rollout: the candidate (or --to arm) becomes stable'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "pause" -d 'Hold a rollout at its current weights (timers stop)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "resume" -d 'Continue a paused rollout (the step timer restarts)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "approve" -d 'Open a rollout\'s manual gate (--gate manual): its last step may promote'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "rollback" -d 'Route 100% to the stable version (or --to V) at once; recorded with who and why'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "history" -d 'The audit log of a model: every transition with its evidence'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "abtest" -d 'A/B/n significance on logged outcomes, and experiment planning'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "drift" -d 'Compare live data with a training baseline (output and input drift)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "guards" -d 'Rollout guards on logged traffic: what a guard set would have decided, and how often it trips on identical arms'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "features" -d 'The feature store in the data dir: load tables, look values up, build point-in-time training sets from a feature view'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "skew" -d 'Training/serving skew: served features (the gateway\'s log) against offline rows'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "monitor" -d 'Watching deployed models: Prometheus alerting rules over mlctl\'s metrics'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "demo" -d 'Start an embedded gateway and play a rollout story: a bad canary rolled back, a good one promoted'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "completions" -d 'Print shell completions'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "man" -d 'Print the man page (roff)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and not __fish_seen_subcommand_from serve deploy predict loadtest status promote pause resume approve rollback history abtest drift guards features skew monitor demo completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from abtest" -f -a "analyze" -d 'Compare arms on binary, mean and ratio metrics from CSV/JSONL files or gateway logs'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from abtest" -f -a "plan" -d 'Sample size (or detectable effect) for an experiment'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from drift" -f -a "baseline" -d 'Profile training data or predictions into a baseline JSON (one streaming pass)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from drift" -f -a "check" -d 'Compare data with a baseline: per-column statistic, threshold, drift flag; exit 1 on dataset drift'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from guards" -f -a "backtest" -d 'Replay the gateway\'s prediction and outcome logs through guards, step by step: a real rollout\'s steps (--last-rollout), fixed steps between two versions (--stable/--candidate), or A/A steps of the stable version split by routing bucket (--aa; exit 1 when the false-trip rate exceeds --alpha)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from features" -f -a "load" -d 'Load a CSV table (gzip or zstd too) or a Parquet file as a new snapshot of TABLE, switched in atomically'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from features" -f -a "get" -d 'The latest value of each column for entity KEY(s)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from features" -f -a "ls" -d 'The tables in the store: columns, entities, values, newest event time'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from features" -f -a "join" -d 'A point-in-time training set: each spine row gets the view\'s features as they were at its time (no value from its future), else the view\'s defaults'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from skew" -f -a "check" -d 'Pair the features the gateway served (its prediction log) with the offline rows of the same requests or entities; per feature: match share, differences, missing and defaulted shares, PSI. Exit 1 when a feature\'s mismatch share exceeds --max-mismatch'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from monitor" -f -a "rules" -d 'Print Prometheus alerting rules (YAML) for rollbacks, pauses, error rate, p99 latency, a failing prediction log and failing webhooks'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from monitor" -f -a "dashboard" -d 'Print a Grafana dashboard (JSON) over mlctl\'s metrics, with a $model variable'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from monitor" -f -a "add" -d 'Watch a model inside the gateway: its outputs (and sampled inputs) against a training baseline, window by window; alert after --consecutive drifted windows'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from monitor" -f -a "ls" -d 'The gateway\'s monitors: columns, windows, alert state'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from monitor" -f -a "rm" -d 'Remove a monitor (and its window history)'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from monitor" -f -a "status" -d 'A monitor\'s finished windows: per column statistic and verdict'
complete -c mlctl -n "__fish_mlctl_using_subcommand help; and __fish_seen_subcommand_from monitor" -f -a "quality" -d 'Model quality from late labels: outcomes joined to their predictions in the gateway\'s logs, scored per version and prediction-time window (accuracy, precision, recall, ROC AUC, log loss; MAE, RMSE for regressors)'
