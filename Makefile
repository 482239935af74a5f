.PHONY: run build generate css icons vendor lint test bench

run:
	go run ./cmd/messenger

build:
	go build -o messenger ./cmd/messenger

generate:
	go tool templ generate

css:
	test -d node_modules || npm ci --no-audit --no-fund
	npm run css

icons:
	static/icons/make.sh

vendor:
	npm ci --no-audit --no-fund
	npm run vendor

lint:
	@unformatted="$$(git ls-files --cached --others --exclude-standard -- '*.go' | xargs -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...
	go tool templ fmt -fail .

test:
	.ci/with-postgres.sh go test -race -count=1 -timeout 30m ./...

bench:
	go test -run '^$$' -bench . -benchmem ./...
