{{/*
The alert and recording rules of one release, as the `groups` of a Prometheus rule file. Every
expression is scoped to this release: the API's series by namespace and job (the Service's name,
which the ServiceMonitor gives as job), the ingester's Pushgateway series by their job
(event-search.ingestJob). Two releases watched by one Prometheus never blend.
The PrometheusRule (prometheusrule.yaml) holds them; `make observability-render` renders the
plain copy docker-compose's Prometheus loads (observability/prometheus/alerts.yml).
*/}}
{{- define "event-search.ruleGroups" -}}
{{- $m := .Values.metrics }}
{{- $a := $m.alerts }}
{{- $sel := printf "namespace=%q, job=%q" .Release.Namespace (include "event-search.componentName" (list . "api")) }}
{{- $ingest := printf "job=%q" (include "event-search.ingestJob" .) }}
{{- $probes := `route!~"/healthz|/readyz|/metrics"` }}
{{- $runbook := $m.runbookBaseUrl }}
{{- $objectiveMs := mulf $m.latencyObjectiveSeconds 1000 | int }}
# RED series of the API, recorded once per evaluation: the dashboard and the alerts read them.
# Probes and scrapes are excluded: /readyz answers 503 on purpose while a replica is not ready.
- name: event-search.red
  rules:
    - record: event_search:http_requests:rate5m
      expr: sum by (namespace, job) (rate(event_search_http_requests_total{ {{- $sel }}, {{ $probes }}}[5m]))
    - record: event_search:http_errors:rate5m
      expr: sum by (namespace, job) (rate(event_search_http_requests_total{ {{- $sel }}, {{ $probes }}, status=~"5.."}[5m]))
    - record: event_search:http_error_ratio:rate5m
      expr: event_search:http_errors:rate5m{ {{- $sel }}} / event_search:http_requests:rate5m{ {{- $sel }}}
    - record: event_search:search_requests:rate5m
      expr: sum by (namespace, job) (rate(event_search_http_requests_total{ {{- $sel }}, route="/search"}[5m]))
    - record: event_search:search_latency_seconds:p99_5m
      expr: histogram_quantile(0.99, sum by (namespace, job, le) (rate(event_search_http_request_duration_seconds_bucket{ {{- $sel }}, route="/search"}[5m])))
- name: event-search.alerts
  rules:
    {{- with $a.dataStale }}{{ if .enabled }}
    - alert: EventSearchDataStale
      # One alert per provider (docs/adr/0014-many-providers.md). Every replica reads the same run
      # records, so the freshest replica tells the truth; a replica that lags only because its
      # own Elasticsearch poll fails has its own alert. A last-success time of 0 means the provider
      # has no successful run recorded (without a provider label: no run of any provider at all).
      expr: |
        min by (namespace, job, provider) (event_search_data_age_seconds{ {{- $sel }}}) > {{ .maxAgeSeconds }}
        or
        max by (namespace, job, provider) (event_search_last_successful_ingest_timestamp_seconds{ {{- $sel }}}) == 0
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: {{ printf "'Search serves data%s older than %d minutes'" "{{ with $labels.provider }} of provider {{ . }}{{ end }}" (div .maxAgeSeconds 60) }}
        description: >-
          {{`{{ $labels.namespace }}/{{ $labels.job }}: the newest successful ingest run{{ with
          $labels.provider }} of provider {{ . }}{{ end }} finished {{ $value | humanizeDuration }}
          ago (0s: none is recorded). Search keeps answering, from stale data.`}}
        runbook_url: {{ printf "%s#eventsearchdatastale" $runbook }}
    {{- end }}{{ end }}
    {{- with $a.highErrorRate }}{{ if .enabled }}
    - alert: EventSearchHighErrorRate
      # The traffic floor keeps a handful of failed requests at night from paging anyone.
      expr: |
        event_search:http_error_ratio:rate5m{ {{- $sel }}} > {{ .maxRatio }}
        and on (namespace, job)
        event_search:http_requests:rate5m{ {{- $sel }}} >= {{ .minRequestsPerSecond }}
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: More than {{ mulf .maxRatio 100 }}% of requests fail with a 5xx status
        description: >-
          {{`{{ $labels.namespace }}/{{ $labels.job }}: {{ $value | humanizePercentage }} of the
          API's requests over the last 5 minutes were answered with a 5xx status (503 includes load
          shedding and Elasticsearch outages).`}}
        runbook_url: {{ printf "%s#eventsearchhigherrorrate" $runbook }}
    {{- end }}{{ end }}
    {{- with $a.latency }}{{ if .enabled }}
    - alert: EventSearchLatencySLO
      # The objective is a bucket boundary of the histogram, so this is exact: more than 1% of
      # the searches took longer than the objective.
      expr: |
        event_search:search_latency_seconds:p99_5m{ {{- $sel }}} > {{ $m.latencyObjectiveSeconds }}
        and on (namespace, job)
        event_search:search_requests:rate5m{ {{- $sel }}} >= {{ .minRequestsPerSecond }}
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: /search p99 latency is above {{ $objectiveMs }} ms
        description: >-
          {{`{{ $labels.namespace }}/{{ $labels.job }}: the 99th percentile of /search over the last
          5 minutes is {{ $value | humanizeDuration }}, above the`}} {{ $objectiveMs }} ms objective.
        runbook_url: {{ printf "%s#eventsearchlatencyslo" $runbook }}
    {{- end }}{{ end }}
    {{- with $a.elasticsearchUnreachable }}{{ if .enabled }}
    - alert: EventSearchElasticsearchUnreachable
      expr: event_search_es_up{ {{- $sel }}} == 0
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: {{`'{{ $labels.pod }} cannot reach Elasticsearch'`}}
        description: >-
          {{`The freshness poll of API replica {{ $labels.pod }} ({{ $labels.namespace }}/{{ $labels.job }})
          has failed for`}} {{ .for }}. The replica stays ready and serves the windows it has cached;
          uncached windows get 503.
        runbook_url: {{ printf "%s#eventsearchelasticsearchunreachable" $runbook }}
    {{- end }}{{ end }}
    {{- with $a.searchesRefused }}{{ if .enabled }}
    - alert: EventSearchSearchesRefused
      # The bulkhead (ES_MAX_CONCURRENT_QUERIES, ES_MAX_OPEN_PITS) refuses cache misses with 503.
      expr: |
        sum by (namespace, job, reason) (rate(event_search_search_bulkhead_rejections_total{ {{- $sel }}}[5m])) > 0
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: {{`'Searches are refused: the {{ $labels.reason }} bulkhead is full'`}}
        description: >-
          {{`{{ $labels.namespace }}/{{ $labels.job }}: {{ printf "%.2f" $value }} searches per second
          were refused with 503 because the replicas already ran their maximum of Elasticsearch
          {{ $labels.reason }}, for`}} {{ .for }}.
        runbook_url: {{ printf "%s#eventsearchsearchesrefused" $runbook }}
    {{- end }}{{ end }}
    {{- with $a.ingestFailing }}{{ if .enabled }}
    - alert: EventSearchIngestFailing
      # The ingester replaces its Pushgateway group after every run, so the group holds the
      # outcome of the newest run. Fires while the newest run failed and no success is newer.
      expr: |
        max by (job, provider) (event_search_ingest_last_run_timestamp_seconds{ {{- $ingest }}, outcome="failed"})
        unless on (job, provider)
        (
          max by (job, provider) (event_search_ingest_last_success_timestamp_seconds{ {{- $ingest }}})
          >= on (job, provider)
          max by (job, provider) (event_search_ingest_last_run_timestamp_seconds{ {{- $ingest }}, outcome="failed"})
        )
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: {{`'Ingest runs of {{ $labels.job }} for provider {{ $labels.provider }} keep failing'`}}
        description: >-
          {{`The newest ingest run of {{ $labels.job }} for provider {{ $labels.provider }} failed and
          no run has succeeded since, for`}} {{ .for }}. Search still answers; the data ages (see
          EventSearchDataStale).
        runbook_url: {{ printf "%s#eventsearchingestfailing" $runbook }}
    {{- end }}{{ end }}
    {{- with $a.ingestRejectionRatio }}{{ if .enabled }}
    - alert: EventSearchIngestRejectionRatioHigh
      # The newest run's rejected events over the events it read (both from its Pushgateway
      # group). Above INGEST_MAX_REJECTED_RATIO the run also fails and writes nothing (the format
      # guard, ADR 0002); this fires earlier, while the data still flows. 0 events read: no ratio.
      expr: |
        sum by (job, provider) (event_search_ingest_events_rejected{ {{- $ingest }}})
        / on (job, provider)
        max by (job, provider) (event_search_ingest_events_read{ {{- $ingest }}})
        > {{ .maxRatio }}
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: {{`'The newest ingest run of {{ $labels.job }} rejected {{ $value | humanizePercentage }} of the events of provider {{ $labels.provider }}'`}}
        description: >-
          {{`The newest ingest run of {{ $labels.job }} for provider {{ $labels.provider }} rejected
          {{ $value | humanizePercentage }} of the events it read, above`}} {{ .maxRatio }}. The
          provider may have changed its format; the rejected events are not refreshed.
        runbook_url: {{ printf "%s#eventsearchingestrejectionratiohigh" $runbook }}
    {{- end }}{{ end }}
    {{- with $a.apiDown }}{{ if .enabled }}
    - alert: EventSearchApiDown
      # Without any scraped replica every alert above about the API goes silent. absent() of a
      # fully scoped selector names the release that vanished.
      expr: absent(event_search_http_requests_in_flight{ {{- $sel }}})
      for: {{ .for }}
      labels:
        severity: {{ .severity }}
      annotations:
        summary: No event-search API replica is scraped
        description: >-
          {{`Prometheus has scraped no API replica of {{ $labels.namespace }}/{{ $labels.job }} for`}}
          {{ .for }}: the API is down, or Prometheus cannot reach it.
        runbook_url: {{ printf "%s#eventsearchapidown" $runbook }}
    {{- end }}{{ end }}
{{- end }}
