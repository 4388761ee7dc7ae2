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
