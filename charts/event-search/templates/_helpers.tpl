{{/*
Names, labels and the pieces every pod of the chart shares.
*/}}

{{- define "event-search.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "event-search.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* A component's object name: <fullname>-<component>, within 63 characters (52 for CronJobs). */}}
{{- define "event-search.componentName" -}}
{{- $root := index . 0 }}{{- $component := index . 1 }}
{{- printf "%s-%s" (include "event-search.fullname" $root | trunc (int (sub 62 (len $component)))) $component | trimSuffix "-" }}
{{- end }}

{{- define "event-search.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "event-search.selectorLabels" -}}
app.kubernetes.io/name: {{ include "event-search.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "event-search.labels" -}}
helm.sh/chart: {{ include "event-search.chart" . }}
{{ include "event-search.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: event-search
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of a component: (list $ "api") */}}
{{- define "event-search.componentLabels" -}}
{{ include "event-search.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "event-search.componentSelectorLabels" -}}
{{ include "event-search.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "event-search.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "event-search.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "event-search.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The three credential roles, in the order the chart renders them. */}}
{{- define "event-search.roles" -}}api ingester bootstrap{{- end }}

{{/* The Secret the chart creates for a role's credential (and the CA PEM): (list $ "api"). */}}
{{- define "event-search.roleSecretName" -}}
{{- include "event-search.componentName" (list (index . 0) (printf "es-%s" (index . 1))) }}
{{- end }}

{{/* The Secret a role's credential is read from: its existingSecret, or the chart's. */}}
{{- define "event-search.credentialSecret" -}}
{{- $root := index . 0 }}{{- $role := index . 1 }}
{{- $cred := index $root.Values.elasticsearch $role }}
{{- $cred.existingSecret | default (include "event-search.roleSecretName" .) }}
{{- end }}

{{/* "true" when the chart creates the role's Secret (no existingSecret for it). */}}
{{- define "event-search.createRoleSecret" -}}
{{- if not (index (index . 0).Values.elasticsearch (index . 1)).existingSecret }}true{{- end }}
{{- end }}

{{/* Where the CA file comes from: "" (none), or the name of the Secret that holds it. (list $ role) */}}
{{- define "event-search.caSecretName" -}}
{{- $root := index . 0 }}
{{- $ca := $root.Values.elasticsearch.caCert }}
{{- if $ca.existingSecret }}{{ $ca.existingSecret }}
{{- else if $ca.pem }}{{ include "event-search.roleSecretName" . }}
{{- end }}
{{- end }}

{{- define "event-search.caKey" -}}
{{- if .Values.elasticsearch.caCert.existingSecret }}{{ .Values.elasticsearch.caCert.key }}{{ else }}ca.crt{{ end }}
{{- end }}

{{- define "event-search.caMountPath" -}}/etc/event-search/elasticsearch-ca{{- end }}

{{/*
Consistency checks the schema cannot express; they stop the render with a precise message.
*/}}
{{- define "event-search.validate" -}}
{{- $es := .Values.elasticsearch }}
{{- range $role := splitList " " (include "event-search.roles" .) }}
{{- $cred := index $es $role }}
{{- if and $cred.existingSecret (or $cred.apiKey $cred.username $cred.password) }}
{{- fail (printf "elasticsearch.%s: set either existingSecret or apiKey/username/password, not both" $role) }}
{{- end }}
{{- if and $cred.username (not $cred.password) }}
{{- fail (printf "elasticsearch.%s.username is set without elasticsearch.%s.password" $role $role) }}
{{- end }}
{{- end }}
{{- if and $es.caCert.pem $es.caCert.existingSecret }}
{{- fail "elasticsearch.caCert: set either pem or existingSecret, not both" }}
{{- end }}
{{- $api := .Values.api }}
{{- if le (int $api.terminationGracePeriodSeconds) (add $api.preStopSleepSeconds $api.shutdownTimeoutSeconds | int) }}
{{- fail (printf "api.terminationGracePeriodSeconds (%v) must exceed api.preStopSleepSeconds + api.shutdownTimeoutSeconds (%v)" $api.terminationGracePeriodSeconds (add $api.preStopSleepSeconds $api.shutdownTimeoutSeconds)) }}
{{- end }}
{{- $as := $api.autoscaling }}
{{- if and $as.enabled (gt (int $as.minReplicas) (int $as.maxReplicas)) }}
{{- fail (printf "api.autoscaling.minReplicas (%v) exceeds maxReplicas (%v)" $as.minReplicas $as.maxReplicas) }}
{{- end }}
{{- $pdb := $api.podDisruptionBudget }}
{{- if and $pdb.enabled (eq (toString $pdb.minAvailable) "") (eq (toString $pdb.maxUnavailable) "") }}
{{- fail "api.podDisruptionBudget: set minAvailable or maxUnavailable" }}
{{- end }}
{{- if and $pdb.enabled (ne (toString $pdb.minAvailable) "") (ne (toString $pdb.maxUnavailable) "") }}
{{- fail "api.podDisruptionBudget: set either minAvailable or maxUnavailable, the other to \"\"" }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.tls.enabled (not .Values.ingress.tls.secretName) }}
{{- fail "ingress.tls.secretName is required when ingress.tls.enabled" }}
{{- end }}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) }}
{{- fail "httpRoute.parentRefs is required when httpRoute.enabled" }}
{{- end }}
{{- if and .Values.otel.enabled (not .Values.otel.endpoint) }}
{{- fail "otel.endpoint is required when otel.enabled" }}
{{- end }}
{{- end }}

{{/*
Environment every process shares: Elasticsearch connection and the role's credential, logging,
tracing. (list $ "service-name" "role": api, ingester or bootstrap)
The variable names are the same in every pod; only the Secret they come from differs.
*/}}
{{- define "event-search.commonEnv" -}}
{{- $root := index . 0 }}{{- $service := index . 1 }}{{- $role := index . 2 }}
{{- $es := $root.Values.elasticsearch -}}
- name: ELASTICSEARCH_URL
{{- if $es.url }}
  value: {{ $es.url | quote }}
{{- else if $es.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ $es.existingSecret }}
      key: {{ $es.secretKeys.url }}
{{- else }}
  value: "http://elasticsearch:9200"
{{- end }}
- name: ES_INDEX_PREFIX
  value: {{ $es.indexPrefix | quote }}
{{- $secret := include "event-search.credentialSecret" (list $root $role) }}
{{- range $env, $key := dict "ES_API_KEY" $es.secretKeys.apiKey "ES_USERNAME" $es.secretKeys.username "ES_PASSWORD" $es.secretKeys.password }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- if include "event-search.caSecretName" (list $root $role) }}
- name: ES_CA_FILE
  value: {{ printf "%s/%s" (include "event-search.caMountPath" $root) (include "event-search.caKey" $root) | quote }}
{{- end }}
- name: LOG_LEVEL
  value: {{ $root.Values.logLevel | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $service | quote }}
{{- if $root.Values.otel.enabled }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $root.Values.otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $root.Values.otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $root.Values.otel.sampler | quote }}
{{- with $root.Values.otel.samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ . | quote }}
{{- end }}
{{- with $root.Values.otel.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- if eq $role "api" }}
{{- /* The API makes no outgoing call but its Elasticsearch queries, which the client traces
  itself: no HTTP or undici instrumentation on its requests (ADR 0017). */}}
- name: OTEL_NODE_DISABLED_INSTRUMENTATIONS
  value: "http,undici"
{{- end }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end }}

{{/* NAME: value map to EnvVar list. */}}
{{- define "event-search.envMap" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}

{{/*
Volumes every pod has: a writable /tmp, the CA when there is one, then the component's
extraVolumes. (list $ sizeLimit role componentValues)
*/}}
{{- define "event-search.volumes" -}}
{{- $root := index . 0 }}{{- $role := index . 2 }}{{- $values := index . 3 -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ index . 1 }}
{{- with include "event-search.caSecretName" (list $root $role) }}
- name: elasticsearch-ca
  secret:
    secretName: {{ . }}
    items:
      - key: {{ include "event-search.caKey" $root }}
        path: {{ include "event-search.caKey" $root }}
{{- end }}
{{- with $values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Mounts of the main container: /tmp, the CA, extraVolumeMounts. (list $ role componentValues) */}}
{{- define "event-search.volumeMounts" -}}
{{- $root := index . 0 }}{{- $values := index . 2 -}}
- name: tmp
  mountPath: /tmp
{{- if include "event-search.caSecretName" (list $root (index . 1)) }}
- name: elasticsearch-ca
  mountPath: {{ include "event-search.caMountPath" $root }}
  readOnly: true
{{- end }}
{{- with $values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The component's extra environment after the chart's: env map, extraEnv, then envFrom. */}}
{{- define "event-search.extraEnv" -}}
{{- with .env }}
{{- include "event-search.envMap" . }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* envFrom of the main container, when any: (componentValues), nindent'ed by the caller. */}}
{{- define "event-search.envFrom" -}}
{{- with .envFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Containers given as values, each with the chart's securityContext unless it sets its own.
Values may use templates, e.g. image: '{{ include "event-search.image" . }}' for the release's
image. (list $ containers) */}}
{{- define "event-search.extraContainers" -}}
{{- $root := index . 0 }}
{{- range $c := index . 1 }}
{{- $rendered := tpl (toYaml $c) $root | fromYaml }}
- {{- toYaml (merge $rendered (dict "securityContext" $root.Values.securityContext)) | nindent 2 }}
{{- end }}
{{- end }}

{{/* initContainers of a pod, when any: (list $ componentValues). */}}
{{- define "event-search.initContainers" -}}
{{- with (index . 1).initContainers }}
initContainers:
  {{- include "event-search.extraContainers" (list (index $ 0) .) | nindent 2 }}
{{- end }}
{{- end }}

{{/* The sidecars, appended to a pod's containers list: (list $ componentValues). */}}
{{- define "event-search.sidecars" -}}
{{- with (index . 1).sidecars }}
{{ include "event-search.extraContainers" (list (index $ 0) .) }}
{{- end }}
{{- end }}

{{/* Pod-level settings every pod shares. */}}
{{- define "event-search.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Data of a role's chart-created Secret: (list $ role). */}}
{{- define "event-search.roleSecretData" -}}
{{- $es := (index . 0).Values.elasticsearch }}
{{- $cred := index $es (index . 1) }}
{{- with $cred.apiKey }}
api-key: {{ . | b64enc | quote }}
{{- end }}
{{- with $cred.username }}
username: {{ . | b64enc | quote }}
{{- end }}
{{- with $cred.password }}
password: {{ . | b64enc | quote }}
{{- end }}
{{- with $es.caCert.pem }}
ca.crt: {{ . | b64enc | quote }}
{{- end }}
{{- end }}

{{/* A role's chart-created Secret: (list $ role extraAnnotations). */}}
{{- define "event-search.roleSecret" -}}
{{- $root := index . 0 }}{{- $role := index . 1 }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "event-search.roleSecretName" (list $root $role) }}
  labels:
    {{- include "event-search.componentLabels" (list $root $role) | nindent 4 }}
  {{- with index . 2 }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
type: Opaque
{{- with include "event-search.roleSecretData" (list $root $role) | trim }}
data:
  {{- . | nindent 2 }}
{{- else }}
data: {}
{{- end }}
{{- end }}

{{/* The job label of the ingester's Pushgateway series (PUSHGATEWAY_JOB). */}}
{{- define "event-search.ingestJob" -}}
{{- .Values.metrics.ingestJob | default (printf "%s-%s-ingest" .Release.Namespace (include "event-search.fullname" .)) }}
{{- end }}

{{/* Egress allowed when networkPolicy.egress.enabled: DNS, then the configured rules. */}}
{{- define "event-search.egressRules" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- with .Values.networkPolicy.egress.rules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The routes the Ingress and the HTTPRoute expose (YAML list of path, pathType). */}}
{{- define "event-search.publicRoutes" -}}
- path: /search
  pathType: Exact
{{- if .Values.ingress.exposeDocs }}
- path: /docs
  pathType: Prefix
- path: /openapi.yaml
  pathType: Exact
{{- end }}
{{- end }}

{{/*
The providers the ingester fetches, one CronJob each, as a JSON list: every entry of
ingester.providers with the ingester's shared settings filled in (schedule, scheduleTimeZone,
suspend, resources, env merged under the entry's own). When ingester.providers is empty, the
single-provider form of earlier chart versions (ingester.provider: url, name) gives the one
CronJob, under its old name (an upgrade keeps it). Each entry gets `cronJobName`.
*/}}
{{- define "event-search.providers" -}}
{{- $ing := .Values.ingester }}
{{- $full := include "event-search.fullname" . }}
{{- $out := list }}
{{- $seen := dict }}
{{- if $ing.providers }}
{{- range $p := $ing.providers }}
{{- if hasKey $seen $p.name }}{{ fail (printf "ingester.providers: the name %q appears twice (it is part of every event id)" $p.name) }}{{ end }}
{{- $_ := set $seen $p.name true }}
{{- if and $p.url $p.urlSecret }}{{ fail (printf "ingester.providers[%s]: set url or urlSecret, not both" $p.name) }}{{ end }}
{{- if not (or $p.url $p.urlSecret) }}{{ fail (printf "ingester.providers[%s]: url or urlSecret is required" $p.name) }}{{ end }}
{{- $entry := dict
  "name" $p.name
  "url" ($p.url | default "")
  "urlSecret" ($p.urlSecret | default dict)
  "format" ($p.format | default "xml")
  "timeZone" ($p.timeZone | default "UTC")
  "schedule" ($p.schedule | default $ing.schedule)
  "scheduleTimeZone" ((hasKey $p "scheduleTimeZone") | ternary $p.scheduleTimeZone $ing.timeZone)
  "suspend" ((hasKey $p "suspend") | ternary $p.suspend $ing.suspend)
  "resources" ($p.resources | default $ing.resources)
  "heap" (merge (deepCopy ($p.heap | default dict)) $ing.heap)
  "env" (merge (deepCopy ($p.env | default dict)) ($ing.env | default dict))
  "cronJobName" (printf "%s-ingest-%s" ($full | trunc 22 | trimSuffix "-") $p.name) }}
{{- $out = append $out $entry }}
{{- end }}
{{- else }}
{{- $p := $ing.provider }}
{{- $out = append $out (dict
  "name" ($p.name | default "primary")
  "url" (required "ingester.provider.url (or ingester.providers) is required" $p.url)
  "urlSecret" dict
  "format" "xml"
  "timeZone" (.Values.api.providerTimezone | default "UTC")
  "schedule" $ing.schedule
  "scheduleTimeZone" $ing.timeZone
  "suspend" $ing.suspend
  "resources" $ing.resources
  "heap" $ing.heap
  "env" ($ing.env | default dict)
  "cronJobName" (printf "%s-ingester" ($full | trunc 43 | trimSuffix "-"))) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
MIGRATE_PROVIDER_TIMEZONES of the bootstrap Job: `name=Zone` of every provider of the chart
(event-search.providers) and of bootstrap.providerTimezones (providers removed from the list whose
events are kept), comma-separated. A name in both takes the provider list's zone.
*/}}
{{- define "event-search.providerTimezones" -}}
{{- $zones := dict }}
{{- range $name, $zone := (.Values.bootstrap.providerTimezones | default dict) }}
{{- $_ := set $zones $name $zone }}
{{- end }}
{{- range $p := (include "event-search.providers" . | fromJsonArray) }}
{{- $_ := set $zones $p.name $p.timeZone }}
{{- end }}
{{- $pairs := list }}
{{- range $name := (keys $zones | sortAlpha) }}
{{- $pairs = append $pairs (printf "%s=%s" $name (get $zones $name)) }}
{{- end }}
{{- join "," $pairs }}
{{- end }}
