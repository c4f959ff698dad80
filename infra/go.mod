module github.com/psabridge/psabridge/infra

go 1.24
