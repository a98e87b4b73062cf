{{/*
Names and labels.
*/}}
{{- define "sealocr.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sealocr.fullname" -}}
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

{{- define "sealocr.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sealocr.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sealocr.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sealocr.labels" -}}
helm.sh/chart: {{ include "sealocr.chart" . }}
{{ include "sealocr.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sealocr.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sealocr.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
sealocr.image renders repository:tag or repository@digest.
Call with (dict "image" .Values.x.image "root" $).
*/}}
{{- define "sealocr.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/*
sealocr.tlsMode is the effective TLS mode: acme, local or files.
*/}}
{{- define "sealocr.tlsMode" -}}
{{- $t := .Values.tls }}
{{- if eq $t.mode "auto" }}
{{- if and $t.domains $t.acme.email }}acme{{ else }}local{{ end }}
{{- else }}
{{- $t.mode }}
{{- end }}
{{- end }}

{{/*
sealocr.tlsSecretName is the Secret the sidecar's certificate is read from
(local and files modes).
*/}}
{{- define "sealocr.tlsSecretName" -}}
{{- if eq (include "sealocr.tlsMode" .) "files" }}
{{- .Values.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "sealocr.fullname" .) }}
{{- end }}
{{- end }}

{{/*
sealocr.maxReplicas is the most pods the release may run at once.
*/}}
{{- define "sealocr.maxReplicas" -}}
{{- if .Values.autoscaling.enabled }}
{{- max (int .Values.replicaCount) (int .Values.autoscaling.maxReplicas) }}
{{- else }}
{{- int .Values.replicaCount }}
{{- end }}
{{- end }}

{{/*
sealocr.sharedState is "true" when the replicas share their state on Redis
(redis.enabled or redis.url), else "".
*/}}
{{- define "sealocr.sharedState" -}}
{{- if or .Values.redis.enabled .Values.redis.url }}true{{ end }}
{{- end }}

{{/*
sealocr.usePVC is "true" when the sidecar's state folder is the
persistence volume: not with shared state (certificates and locks live in
Redis, keys in a Secret), where it is an emptyDir.
*/}}
{{- define "sealocr.usePVC" -}}
{{- if and .Values.persistence.enabled (not (include "sealocr.sharedState" .)) }}true{{ end }}
{{- end }}

{{/*
sealocr.redisURL is the URL the sidecar reaches Redis at.
*/}}
{{- define "sealocr.redisURL" -}}
{{- if .Values.redis.enabled }}
{{- printf "redis://%s-redis.%s.svc:6379/0" (include "sealocr.fullname" .) .Release.Namespace }}
{{- else }}
{{- .Values.redis.url }}
{{- end }}
{{- end }}

{{/*
sealocr.redisPasswordSecret is the Secret holding the Redis password, "" for
none.
*/}}
{{- define "sealocr.redisPasswordSecret" -}}
{{- if .Values.redis.enabled }}
{{- printf "%s-redis" (include "sealocr.fullname" .) }}
{{- else }}
{{- .Values.redis.existingSecret }}
{{- end }}
{{- end }}

{{/*
sealocr.keysSecret is the Secret holding the key file: keys.existingSecret,
or the one the chart makes once (a seed every replica derives the same keys
from).
*/}}
{{- define "sealocr.keysSecret" -}}
{{- default (printf "%s-keys" (include "sealocr.fullname" .)) .Values.keys.existingSecret }}
{{- end }}

{{- define "sealocr.keysSecretKey" -}}
{{- ternary .Values.keys.secretKey "keys.yaml" (ne .Values.keys.existingSecret "") }}
{{- end }}

{{/*
sealocr.validate refuses dangerous or incomplete combinations with the
reason. values.schema.json checks each value alone; this checks them together.
*/}}
{{- define "sealocr.validate" -}}
{{- $mode := include "sealocr.tlsMode" . }}
{{- $max := include "sealocr.maxReplicas" . | int }}
{{- $p := .Values.persistence }}
{{- $shared := include "sealocr.sharedState" . }}
{{- $r := .Values.redis }}
{{- $errs := list }}
{{- if and $r.enabled $r.url }}
{{- $errs = append $errs "redis.enabled deploys a Redis and redis.url names another: set one of them" }}
{{- end }}
{{- if and $r.existingSecret (not $r.url) }}
{{- $errs = append $errs "redis.existingSecret is the password of the Redis at redis.url, which is empty" }}
{{- end }}
{{- if and $r.url (regexMatch "^[a-z]+://[^/@]*:[^/@]*@" $r.url) }}
{{- $errs = append $errs "redis.url must not carry a password (it would be logged and visible in the pod spec): put it in a Secret and set redis.existingSecret" }}
{{- end }}
{{- if and (gt $max 1) (not $shared) (not .Values.unsafeReplicasWithoutRedis) }}
{{- $errs = append $errs (printf "%d replicas without shared state: each would keep its own replay cache and rate limits, so a captured request could be replayed to another replica and a client would get %d times its limit: set redis.enabled=true (a Redis deployed with the release) or redis.url (yours), or unsafeReplicasWithoutRedis=true" $max $max) }}
{{- end }}
{{- if and (eq $mode "acme") (not .Values.tls.domains) }}
{{- $errs = append $errs "tls.mode acme needs tls.domains: the names to obtain certificates for" }}
{{- end }}
{{- if and (eq .Values.tls.mode "auto") .Values.tls.domains (not .Values.tls.acme.email) }}
{{- $errs = append $errs "tls.domains is set without tls.acme.email: set the e-mail for public ACME certificates, or tls.mode=local to use the names in a private certificate" }}
{{- end }}
{{- if and (eq $mode "acme") (not $p.enabled) (not $shared) }}
{{- $errs = append $errs "tls.mode acme needs persistence.enabled=true (or Redis: redis.enabled or redis.url): without storage every restart requests new certificates, into the ACME CA's rate limits" }}
{{- end }}
{{- if and (eq $mode "acme") (gt $max 1) (not $shared) (ne $p.accessMode "ReadWriteMany") }}
{{- $errs = append $errs (printf "ACME with %d replicas needs certificate storage and locks every pod shares: set redis.enabled=true or redis.url (or persistence.accessMode=ReadWriteMany), or run one replica" $max) }}
{{- end }}
{{- if and (include "sealocr.usePVC" .) (not $p.existingClaim) (gt $max 1) (ne $p.accessMode "ReadWriteMany") }}
{{- $errs = append $errs (printf "%d replicas cannot share one %s volume: set persistence.accessMode=ReadWriteMany, or persistence.enabled=false (with keys.existingSecret and tls.mode local or files nothing needs it)" $max $p.accessMode) }}
{{- end }}
{{- if and (eq $mode "files") (not .Values.tls.existingSecret) }}
{{- $errs = append $errs "tls.mode files needs tls.existingSecret: a kubernetes.io/tls Secret with tls.crt and tls.key" }}
{{- end }}
{{- if and (ne $mode "files") .Values.tls.existingSecret }}
{{- $errs = append $errs (printf "tls.existingSecret is set but the TLS mode is %s: set tls.mode=files to serve it" $mode) }}
{{- end }}
{{- if and .Values.legacyCBC.enabled (not .Values.legacyCBC.existingSecret) }}
{{- $errs = append $errs "legacyCBC.enabled needs legacyCBC.existingSecret: the Secret holding the 32-byte key" }}
{{- end }}
{{- $j := .Values.auth.jwt }}
{{- $jwtKeys := or $j.jwksURL (and $j.existingSecret (or $j.jwksKey $j.publicKeys $j.hs256Key)) }}
{{- $o := .Values.auth.oidc }}
{{- if and (ne .Values.auth.mode "off") (not (or $jwtKeys .Values.auth.apiKeys.existingSecret $o.issuer)) }}
{{- $errs = append $errs (printf "auth.mode %s needs a credential source: auth.jwt.jwksURL, auth.jwt.existingSecret (with jwksKey, publicKeys or hs256Key), auth.oidc.issuer, or auth.apiKeys.existingSecret" .Values.auth.mode) }}
{{- end }}
{{- if and $o.issuer (not $o.clientID) }}
{{- $errs = append $errs "auth.oidc.issuer needs auth.oidc.clientID: the WebUI's client ID at the provider (a public client, no secret)" }}
{{- end }}
{{- if and (eq $mode "acme") (ne .Values.auth.mode "required") (not .Values.unsafePublicUnauthenticated) }}
{{- $errs = append $errs (printf "tls.mode acme serves public certificates with auth.mode %s: anyone on the internet could OCR through the release. Set auth.mode \"required\" with auth.apiKeys.existingSecret (a Secret holding the entry `sealctl apikey new` prints) or auth.jwt; or unsafePublicUnauthenticated=true to serve everyone" .Values.auth.mode) }}
{{- end }}
{{- $pt := .Values.passthrough }}
{{- if and (ne $pt.kind "none") (not (or $pt.hosts .Values.tls.domains)) }}
{{- $errs = append $errs (printf "passthrough.kind %s routes by host name (SNI): set passthrough.hosts or tls.domains" $pt.kind) }}
{{- end }}
{{- if and (eq $pt.kind "gateway-api") (not $pt.gatewayAPI.parentRefs) }}
{{- $errs = append $errs "passthrough.kind gateway-api needs passthrough.gatewayAPI.parentRefs: the Gateway listener (protocol TLS, tls.mode Passthrough) to attach to" }}
{{- end }}
{{- if and $j.existingSecret (not (or $j.jwksKey $j.publicKeys $j.hs256Key)) }}
{{- $errs = append $errs "auth.jwt.existingSecret is set but names no key in it: set auth.jwt.jwksKey, publicKeys or hs256Key" }}
{{- end }}
{{- $ports := .Values.sidecar.containerPorts }}
{{- if has (int .Values.core.port) (list (int $ports.https) (int $ports.http) (int $ports.metrics)) }}
{{- $errs = append $errs (printf "core.port %d is one of the sidecar's ports: choose another" (int .Values.core.port)) }}
{{- end }}
{{- if has (int .Values.core.metricsPort) (list (int $ports.https) (int $ports.http) (int $ports.metrics) (int .Values.core.port)) }}
{{- $errs = append $errs (printf "core.metricsPort %d is already used (sidecar ports or core.port): choose another" (int .Values.core.metricsPort)) }}
{{- end }}
{{- if eq (int $ports.https) (int $ports.http) }}
{{- $errs = append $errs "sidecar.containerPorts.https and .http are the same port" }}
{{- end }}
{{- if and (eq .Values.core.mode "existing") (not (or .Values.core.image.tag .Values.core.image.digest)) }}
{{- $errs = append $errs "core.mode existing needs core.image.tag or core.image.digest: the chart's appVersion is sealocr's, not your server's" }}
{{- end }}
{{- if and (eq .Values.core.mode "existing") (eq .Values.core.image.repository "ghcr.io/sealocr/core") }}
{{- $errs = append $errs "core.mode existing needs core.image.repository: your OCR server's image" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- $errs = append $errs "autoscaling.minReplicas is above autoscaling.maxReplicas" }}
{{- end }}
{{- if and .Values.autoscaling.enabled (not .Values.deployment.create) }}
{{- $errs = append $errs "autoscaling.enabled needs deployment.create: scale your own Deployment with your own autoscaler" }}
{{- end }}
{{- if $errs }}
{{- fail (printf "\n\nsealocr: refusing to render:\n  - %s\n" (join "\n  - " $errs)) }}
{{- end }}
{{- end }}

{{/*
sealocr.tlsNames lists the DNS names of the chart-made certificate (local
mode), comma-separated.
*/}}
{{- define "sealocr.tlsNames" -}}
{{- $f := include "sealocr.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $names := list $f (printf "%s.%s" $f $ns) (printf "%s.%s.svc" $f $ns) (printf "%s.%s.svc.cluster.local" $f $ns) "localhost" }}
{{- range .Values.tls.domains }}
{{- $names = append $names . }}
{{- end }}
{{- join "," (uniq $names) }}
{{- end }}

{{/*
sealocr.sidecarEnv is the sidecar's environment: settings only; secrets are
files on read-only Secret volumes, or secretKeyRef.
*/}}
{{- define "sealocr.sidecarEnv" -}}
{{- $mode := include "sealocr.tlsMode" . }}
{{- $ports := .Values.sidecar.containerPorts -}}
- name: SEALOCR_LISTEN
  value: {{ printf ":%d" (int $ports.https) | quote }}
- name: SEALOCR_HTTP_LISTEN
  value: {{ printf ":%d" (int $ports.http) | quote }}
- name: SEALOCR_UPSTREAM
  value: {{ printf "http://127.0.0.1:%d" (int .Values.core.port) | quote }}
- name: SEALOCR_STATE_DIR
  value: /var/lib/sealocr
- name: SEALOCR_KEYS_FILE
  value: {{ printf "/etc/sealocr/keys/%s" (include "sealocr.keysSecretKey" .) | quote }}
{{- if not .Values.keys.existingSecret }}
- name: SEALOCR_OHTTP_ROTATION
  value: {{ .Values.keys.ohttpRotation | quote }}
{{- end }}
{{- if include "sealocr.sharedState" . }}
- name: SEALOCR_REDIS_URL
  value: {{ include "sealocr.redisURL" . | quote }}
{{- if include "sealocr.redisPasswordSecret" . }}
- name: SEALOCR_REDIS_PASSWORD_FILE
  value: /etc/sealocr/redis/password
{{- end }}
- name: SEALOCR_REDIS_TIMEOUT
  value: {{ .Values.redis.timeout | quote }}
- name: SEALOCR_RATE_LIMIT_FAIL
  value: {{ .Values.rateLimit.fail | quote }}
{{- end }}
{{- if eq $mode "acme" }}
- name: SEALOCR_TLS_MODE
  value: acme
- name: SEALOCR_DOMAINS
  value: {{ join "," .Values.tls.domains | quote }}
{{- with .Values.tls.acme.email }}
- name: SEALOCR_ACME_EMAIL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.tls.acme.ca }}
- name: SEALOCR_ACME_CA
  value: {{ . | quote }}
{{- end }}
- name: SEALOCR_ACME_STAGING
  value: {{ .Values.tls.acme.staging | quote }}
{{- else }}
- name: SEALOCR_TLS_MODE
  value: files
- name: SEALOCR_TLS_CERT
  value: /etc/sealocr/tls/tls.crt
- name: SEALOCR_TLS_KEY
  value: /etc/sealocr/tls/tls.key
{{- end }}
- name: SEALOCR_MAX_BODY_BYTES
  value: {{ int64 .Values.sidecar.maxBodyBytes | quote }}
- name: SEALOCR_UPSTREAM_TIMEOUT
  value: {{ .Values.sidecar.upstreamTimeout | quote }}
- name: SEALOCR_MAX_CONCURRENT
  value: {{ int .Values.sidecar.maxConcurrent | quote }}
- name: SEALOCR_LOG_LEVEL
  value: {{ .Values.sidecar.logLevel | quote }}
- name: SEALOCR_LOG_FORMAT
  value: json
{{- if .Values.serviceMonitor.enabled }}
- name: SEALOCR_METRICS_LISTEN
  value: {{ printf ":%d" (int $ports.metrics) | quote }}
- name: SEALOCR_UNSAFE_ALLOW_REMOTE_METRICS
  value: "true"
{{- else }}
- name: SEALOCR_METRICS_LISTEN
  value: {{ printf "127.0.0.1:%d" (int $ports.metrics) | quote }}
{{- end }}
{{- if .Values.legacyCBC.enabled }}
- name: SEALOCR_LEGACY_CBC
  value: "true"
- name: AES_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.legacyCBC.existingSecret }}
      key: {{ .Values.legacyCBC.secretKey }}
{{- end }}
{{- $a := .Values.auth }}
- name: SEALOCR_AUTH
  value: {{ $a.mode | quote }}
{{- if .Values.unsafePublicUnauthenticated }}
- name: SEALOCR_UNSAFE_PUBLIC_UNAUTHENTICATED
  value: "true"
{{- end }}
{{- with $a.jwt.issuer }}
- name: SEALOCR_AUTH_JWT_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with $a.jwt.audiences }}
- name: SEALOCR_AUTH_JWT_AUDIENCE
  value: {{ join "," . | quote }}
{{- end }}
{{- with $a.jwt.jwksURL }}
- name: SEALOCR_AUTH_JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- if $a.jwt.existingSecret }}
{{- with $a.jwt.jwksKey }}
- name: SEALOCR_AUTH_JWKS_FILE
  value: {{ printf "/etc/sealocr/jwt/%s" . | quote }}
{{- end }}
{{- with $a.jwt.publicKeys }}
{{- $files := list }}
{{- range . }}
{{- $files = append $files (printf "/etc/sealocr/jwt/%s" .) }}
{{- end }}
- name: SEALOCR_AUTH_JWT_PUBLIC_KEY_FILES
  value: {{ join "," $files | quote }}
{{- end }}
{{- with $a.jwt.hs256Key }}
- name: SEALOCR_AUTH_JWT_HS256_KEY_FILE
  value: {{ printf "/etc/sealocr/jwt/%s" . | quote }}
{{- end }}
{{- end }}
{{- with $a.oidc.issuer }}
- name: SEALOCR_AUTH_OIDC_ISSUER
  value: {{ . | quote }}
- name: SEALOCR_AUTH_OIDC_CLIENT_ID
  value: {{ $a.oidc.clientID | quote }}
{{- with $a.oidc.audiences }}
- name: SEALOCR_AUTH_OIDC_AUDIENCE
  value: {{ join "," . | quote }}
{{- end }}
{{- with $a.oidc.scopes }}
- name: SEALOCR_AUTH_OIDC_SCOPES
  value: {{ join "," . | quote }}
{{- end }}
{{- end }}
{{- if $a.apiKeys.existingSecret }}
- name: SEALOCR_AUTH_API_KEYS_FILE
  value: {{ printf "/etc/sealocr/api-keys/%s" $a.apiKeys.secretKey | quote }}
{{- end }}
- name: SEALOCR_RATE_LIMIT
  value: {{ ternary .Values.rateLimit.rate "off" .Values.rateLimit.enabled | quote }}
{{- if .Values.rateLimit.enabled }}
- name: SEALOCR_RATE_LIMIT_BURST
  value: {{ int .Values.rateLimit.burst | quote }}
{{- end }}
{{- with .Values.sidecar.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
sealocr.sidecarProbe renders one probe of the sidecar: tcpSocket in ACME
mode (until the first certificate is issued HTTPS fails, and an unready pod
leaves the Service the ACME CA validates through), else HTTPS GET of path.
Call with (dict "root" $ "path" "/healthz" "failureThreshold" 3).
*/}}
{{- define "sealocr.sidecarProbe" -}}
{{- $r := .root -}}
{{- if eq (include "sealocr.tlsMode" $r) "acme" }}
tcpSocket:
  port: https
{{- else }}
httpGet:
  path: {{ .path }}
  port: https
  scheme: HTTPS
{{- end }}
periodSeconds: {{ int $r.Values.probes.periodSeconds }}
timeoutSeconds: {{ int $r.Values.probes.timeoutSeconds }}
failureThreshold: {{ int .failureThreshold }}
{{- end }}

{{/*
sealocr.sidecarContainer is the sidecar container. Besides this chart's own
Deployment, use it to put the sidecar in front of an OCR server in your own
Deployment: see the chart's README ("Your own Deployment"). Call it with a
context whose .Values has this chart's layout.
*/}}
{{- define "sealocr.sidecarContainer" -}}
{{- include "sealocr.validate" . }}
{{- $ports := .Values.sidecar.containerPorts }}
{{- $p := .Values.probes -}}
name: sidecar
image: {{ include "sealocr.image" (dict "image" .Values.sidecar.image "root" .) | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
ports:
  - name: https
    containerPort: {{ int $ports.https }}
    protocol: TCP
  - name: http
    containerPort: {{ int $ports.http }}
    protocol: TCP
{{- if .Values.serviceMonitor.enabled }}
  - name: metrics
    containerPort: {{ int $ports.metrics }}
    protocol: TCP
{{- end }}
env:
{{- include "sealocr.sidecarEnv" . | nindent 2 }}
{{- if dig "limits" "memory" "" (default dict .Values.sidecar.resources) }}
  # The Go runtime collects harder as the heap nears the container's limit,
  # rather than being OOM-killed past it.
  - name: GOMEMLIMIT
    valueFrom:
      resourceFieldRef:
        resource: limits.memory
{{- end }}
startupProbe:
{{- include "sealocr.sidecarProbe" (dict "root" . "path" "/healthz" "failureThreshold" (div (int $p.startupTimeoutSeconds) (int $p.periodSeconds))) | nindent 2 }}
livenessProbe:
{{- include "sealocr.sidecarProbe" (dict "root" . "path" "/healthz" "failureThreshold" $p.failureThreshold) | nindent 2 }}
readinessProbe:
{{- include "sealocr.sidecarProbe" (dict "root" . "path" (ternary "/readyz" "/healthz" (eq .Values.core.mode "bundled")) "failureThreshold" 1) | nindent 2 }}
resources:
  {{- toYaml .Values.sidecar.resources | nindent 2 }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: sealocr-state
    mountPath: /var/lib/sealocr
  - name: sealocr-tmp
    mountPath: /tmp
    subPath: sidecar
{{- if ne (include "sealocr.tlsMode" .) "acme" }}
  - name: sealocr-tls
    mountPath: /etc/sealocr/tls
    readOnly: true
{{- end }}
  - name: sealocr-keys
    mountPath: /etc/sealocr/keys
    readOnly: true
{{- if include "sealocr.redisPasswordSecret" . }}
  - name: sealocr-redis
    mountPath: /etc/sealocr/redis
    readOnly: true
{{- end }}
{{- if .Values.auth.jwt.existingSecret }}
  - name: sealocr-jwt
    mountPath: /etc/sealocr/jwt
    readOnly: true
{{- end }}
{{- if .Values.auth.apiKeys.existingSecret }}
  - name: sealocr-api-keys
    mountPath: /etc/sealocr/api-keys
    readOnly: true
{{- end }}
{{- end }}

{{/*
sealocr.sidecarVolumes are the volumes sealocr.sidecarContainer mounts.
*/}}
{{- define "sealocr.sidecarVolumes" -}}
- name: sealocr-state
{{- if include "sealocr.usePVC" . }}
  persistentVolumeClaim:
    claimName: {{ default (include "sealocr.fullname" .) .Values.persistence.existingClaim }}
{{- else }}
  emptyDir:
    sizeLimit: 64Mi
{{- end }}
- name: sealocr-tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if ne (include "sealocr.tlsMode" .) "acme" }}
- name: sealocr-tls
  secret:
    secretName: {{ include "sealocr.tlsSecretName" . }}
    defaultMode: 0440
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
- name: sealocr-keys
  secret:
    secretName: {{ include "sealocr.keysSecret" . }}
    defaultMode: 0440
{{- with include "sealocr.redisPasswordSecret" . }}
- name: sealocr-redis
  secret:
    secretName: {{ . }}
    defaultMode: 0440
    items:
      - key: {{ ternary "password" $.Values.redis.secretKey $.Values.redis.enabled }}
        path: password
{{- end }}
{{- if .Values.auth.jwt.existingSecret }}
- name: sealocr-jwt
  secret:
    secretName: {{ .Values.auth.jwt.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if .Values.auth.apiKeys.existingSecret }}
- name: sealocr-api-keys
  secret:
    secretName: {{ .Values.auth.apiKeys.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/*
sealocr.coreContainer is the OCR core: bundled, or your server (existing mode).
Its API port is not declared: it listens on 127.0.0.1 and is reached only by
the sidecar over the pod's loopback interface. Its /metrics is on a listener
of its own (core.metricsPort), loopback too unless the ServiceMonitor is on.
*/}}
{{- define "sealocr.coreContainer" -}}
{{- $p := .Values.probes }}
{{- $c := .Values.core -}}
name: core
image: {{ include "sealocr.image" (dict "image" $c.image "root" .) | quote }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- if and (eq $c.mode "bundled") .Values.serviceMonitor.enabled }}
ports:
  - name: core-metrics
    containerPort: {{ int $c.metricsPort }}
    protocol: TCP
{{- end }}
{{- with $c.args }}
args:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if or (eq $c.mode "bundled") $c.env }}
env:
{{- if eq $c.mode "bundled" }}
  - name: SEALOCR_CORE_LISTEN
    value: {{ printf "127.0.0.1:%d" (int $c.port) | quote }}
{{- if .Values.serviceMonitor.enabled }}
  - name: SEALOCR_CORE_METRICS_LISTEN
    value: {{ printf ":%d" (int $c.metricsPort) | quote }}
  - name: SEALOCR_CORE_UNSAFE_ALLOW_REMOTE_METRICS
    value: "true"
{{- else }}
  - name: SEALOCR_CORE_METRICS_LISTEN
    value: {{ printf "127.0.0.1:%d" (int $c.metricsPort) | quote }}
{{- end }}
  - name: SEALOCR_CORE_THREADS
    value: {{ int $c.threads | quote }}
  - name: SEALOCR_CORE_WORKERS
    value: {{ int $c.workers | quote }}
  - name: SEALOCR_CORE_MAX_BODY_BYTES
    value: {{ int64 .Values.sidecar.maxBodyBytes | quote }}
  - name: SEALOCR_LOG_FORMAT
    value: json
{{- if dig "limits" "memory" "" (default dict $c.resources) }}
  # The container's memory limit, in bytes. The core takes it as all the
  # memory it may use: it lowers the Go runtime's soft limit by what ONNX
  # Runtime holds outside the Go heap and derives its memory budget from
  # the rest (README, Memory).
  - name: GOMEMLIMIT
    valueFrom:
      resourceFieldRef:
        resource: limits.memory
{{- end }}
{{- end }}
{{- with $c.env }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- $cmd := ternary (list "/usr/local/bin/core" "healthcheck") $c.healthcheckCommand (eq $c.mode "bundled") }}
{{- if $cmd }}
startupProbe:
  exec:
    command: {{ toJson $cmd }}
  periodSeconds: 5
  timeoutSeconds: {{ int $p.timeoutSeconds }}
  failureThreshold: {{ div (int $p.startupTimeoutSeconds) 5 }}
livenessProbe:
  exec:
    command: {{ toJson $cmd }}
  periodSeconds: {{ int $p.periodSeconds }}
  timeoutSeconds: {{ int $p.timeoutSeconds }}
  failureThreshold: {{ int $p.failureThreshold }}
readinessProbe:
  exec:
    command: {{ toJson $cmd }}
  periodSeconds: {{ int $p.periodSeconds }}
  timeoutSeconds: {{ int $p.timeoutSeconds }}
  failureThreshold: 1
{{- end }}
resources:
  {{- toYaml $c.resources | nindent 2 }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: sealocr-tmp
    mountPath: /tmp
    subPath: core
{{- end }}

{{/*
sealocr.podLabels are the labels the Service, NetworkPolicy and
PodDisruptionBudget select pods by; put them on your own pod template when
deployment.create is false.
*/}}
{{- define "sealocr.podLabels" -}}
{{ include "sealocr.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}
