{{- define "k8smon.labels" -}}
app.kubernetes.io/name: k8smon
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: k8smon
{{- end }}

{{- define "k8smon.selectorLabels" -}}
app.kubernetes.io/name: k8smon
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- /* Credentials of one scrape endpoint when authentication is on (PodMonitor). */ -}}
{{- define "k8smon.podMonitorAuth" -}}
{{- if .Values.auth.enabled -}}
authorization:
  type: Bearer
  credentials:
    name: {{ .Release.Name }}-scraper-token
    key: token
{{- end }}
{{- end }}

{{- /* The same for VMPodScrape, whose endpoints take the Secret as bearerTokenSecret. */ -}}
{{- define "k8smon.vmPodScrapeAuth" -}}
{{- if .Values.auth.enabled -}}
bearerTokenSecret:
  name: {{ .Release.Name }}-scraper-token
  key: token
{{- end }}
{{- end }}

{{- /* Verification of the agents' certificate when TLS is on; PodMonitor (SafeTLSConfig) and
VMPodScrape (TLSConfig) take the same shape. The CA comes from the Secret or ConfigMap
of tls.ca, the name checked from tls.serverName (the targets are pod IPs). */ -}}
{{- define "k8smon.scrapeTLS" -}}
{{- if .Values.tls.enabled -}}
tlsConfig:
  ca:
    {{- if .Values.tls.ca.configMapName }}
    configMap:
      name: {{ .Values.tls.ca.configMapName }}
      key: {{ .Values.tls.ca.key }}
    {{- else }}
    secret:
      name: {{ if .Values.tls.ca.secretName }}{{ .Values.tls.ca.secretName }}{{ else }}{{ .Values.tls.secretName }}{{ end }}
      key: {{ .Values.tls.ca.key }}
    {{- end }}
  serverName: {{ if .Values.tls.serverName }}{{ .Values.tls.serverName }}{{ else }}{{ .Release.Name }}.{{ .Release.Namespace }}.svc{{ end }}
{{- end }}
{{- end }}
