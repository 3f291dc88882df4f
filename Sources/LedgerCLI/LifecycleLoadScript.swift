/// The wrk script that drives whole lifecycles: create, start attempt, two progress steps, approved result,
/// order read. wrk gives each thread one Lua state shared by its connections and does not say which
/// connection a response came on, so every response is matched to its lifecycle by what it names: the
/// `client_reference_id` a lifecycle was created with, or the `verification_id` of attempts and orders
/// (the patterns allow blanks after colons, so they do not depend on how a document was rendered).
/// The next step goes to a queue that the next free connection takes from; so each connection keeps one
/// request in flight, as a blocking client would. Latency is timed here (monotonic clock through LuaJIT's
/// FFI) so that commands and reads are counted apart; `done` prints one JSON line, and writes every command's
/// latency to `latencies_path` when the script is given one (a line `local latencies_path = "…"` put before it).
enum LifecycleLoadScript {
    static let lua = #"""
    local ffi = require("ffi")
    ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } ledger_timespec;
    int clock_gettime(int clock_id, ledger_timespec *ts);
    ]]
    local clock = ffi.new("ledger_timespec")
    local function now_ms()
      ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
      return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
    end

    local threads = {}
    local next_thread = 0
    function setup(thread)
      next_thread = next_thread + 1
      thread:set("thread_number", next_thread)
      table.insert(threads, thread)
    end

    local post_headers, get_headers = {}, {}
    local ready, by_key, by_verification = {}, {}, {}
    local serial = 0
    latencies, reads, failures, lifecycles = {}, 0, 0, 0

    function init(args)
      post_headers["Authorization"] = "Bearer " .. args[1]
      post_headers["Content-Type"] = "application/json"
      get_headers["Authorization"] = "Bearer " .. args[1]
    end

    local function format(lifecycle)
      lifecycle.sent_at = now_ms()
      local step, id = lifecycle.step, lifecycle.verification_id
      if step == 1 then
        return wrk.format("POST", "/v1/verifications", post_headers,
          '{"entity_id":"cus_' .. lifecycle.key .. '","client_reference_id":"' .. lifecycle.key ..
          '","checks":["identity_verification"],"metadata":{"source":"bench"},' ..
          '"applicant":{"first_name":"Ada","last_name":"Lovelace","email":"ada.' .. lifecycle.key .. '@example.org",' ..
          '"address":"12 St James Square, London"}}')
      elseif step == 2 then
        return wrk.format("POST", "/v1/verifications/" .. id .. "/attempts", post_headers, "{}")
      elseif step == 3 then
        return wrk.format("POST", "/v1/verifications/" .. id .. "/attempts/" .. lifecycle.attempt_id .. "/progress",
          post_headers, '{"status":"capture_in_progress"}')
      elseif step == 4 then
        return wrk.format("POST", "/v1/verifications/" .. id .. "/attempts/" .. lifecycle.attempt_id .. "/progress",
          post_headers, '{"status":"completed"}')
      elseif step == 5 then
        return wrk.format("POST", "/v1/verifications/" .. id .. "/results", post_headers,
          '{"check":"identity_verification","status":"approved","response_codes":[10000],' ..
          '"extracted_data":{"first_name":"Ada","last_name":"Lovelace","date_of_birth":"1815-12-10",' ..
          '"document":{"type":"passport","number":"P' .. lifecycle.key .. '","issuing_country":"GB","expiry_date":"2030-01-31"}}}')
      end
      return wrk.format("GET", "/v1/orders/" .. id, get_headers)
    end

    function request()
      local lifecycle = table.remove(ready, 1)
      if lifecycle == nil then
        serial = serial + 1
        lifecycle = { key = "lc" .. thread_number .. "_" .. serial, step = 1 }
        by_key[lifecycle.key] = lifecycle
      end
      return format(lifecycle)
    end

    local function forget(lifecycle)
      by_key[lifecycle.key] = nil
      if lifecycle.verification_id then by_verification[lifecycle.verification_id] = nil end
    end

    function response(status, headers, body)
      local finished = now_ms()
      local key = body:match('"client_reference_id":%s*"(lc[%d_]+)"')
      local lifecycle = (key and by_key[key]) or by_verification[body:match('"verification_id":%s*"([^"]+)"') or ""]
      if lifecycle == nil or status < 200 or status > 299 then
        failures = failures + 1
        if lifecycle then forget(lifecycle) end
        return
      end
      if lifecycle.step == 6 then
        reads = reads + 1
        lifecycles = lifecycles + 1
        forget(lifecycle)
        return
      end
      latencies[#latencies + 1] = finished - lifecycle.sent_at
      if lifecycle.step == 1 then
        lifecycle.verification_id = body:match('^{%s*"id":%s*"([^"]+)"')
        by_verification[lifecycle.verification_id or ""] = lifecycle
      elseif lifecycle.step == 2 then
        lifecycle.attempt_id = body:match('^{%s*"id":%s*"([^"]+)"')
      end
      lifecycle.step = lifecycle.step + 1
      table.insert(ready, lifecycle)
    end

    function done(summary, latency, requests)
      local all, total_reads, total_failures, total_lifecycles = {}, 0, 0, 0
      for _, thread in ipairs(threads) do
        for _, value in ipairs(thread:get("latencies")) do all[#all + 1] = value end
        total_reads = total_reads + thread:get("reads")
        total_failures = total_failures + thread:get("failures")
        total_lifecycles = total_lifecycles + thread:get("lifecycles")
      end
      table.sort(all)
      local function percentile(p)
        if #all == 0 then return 0 end
        return all[math.min(#all, math.floor(#all * p) + 1)]
      end
      if latencies_path then -- every command's latency, so that the slices of one phase are told as one
        local file = io.open(latencies_path, "w")
        for _, value in ipairs(all) do file:write(string.format("%.3f\n", value)) end
        file:close()
      end
      local errors = summary.errors
      io.write(string.format(
        '{"seconds":%.3f,"commands":%d,"reads":%d,"lifecycles":%d,"failures":%d,"socket_errors":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
        summary.duration / 1e6, #all, total_reads, total_lifecycles, total_failures,
        errors.connect + errors.read + errors.write + errors.timeout, percentile(0.50), percentile(0.99)))
    end
    """#
}
