# Makefile — thin wrapper: everything real lives in meson.
#   make run    install deps, build, start configs/local.cfg in the foreground
#   make test   install deps, build, run the lint, unit and integration suites
#   make slow   the long fault-injection suite
#   make lint   clang-format and the file/function size limits (tools/lint)
BUILD  ?= build
CONFIG ?= configs/local.cfg

.PHONY: all deps build run test slow lint asan clean

all: build

deps:
	@sh tools/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	$(BUILD)/tools/hobbesctl run --config $(CONFIG)

test: build
	meson test -C $(BUILD) --suite lint --suite unit --suite integration --print-errorlogs --num-processes 2

lint: build
	meson test -C $(BUILD) --suite lint --print-errorlogs

slow: build
	meson test -C $(BUILD) --suite slow --print-errorlogs

asan: deps
	[ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-asan
	meson test -C build-asan --suite unit --print-errorlogs --timeout-multiplier 5

clean:
	rm -rf $(BUILD) build-asan
