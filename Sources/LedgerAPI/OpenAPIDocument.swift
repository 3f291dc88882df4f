/// The OpenAPI 3.1 description of every route. A test checks it against the router both ways and validates
/// it with openapi-spec-validator; keep it in step when adding a route.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Verification ledger",
    "version": "0.1.0",
    "description": "An event-sourced ledger of identity verifications. Errors always have the shape {\"error\": {\"type\", \"code\", \"message\", \"param\"}}. Every POST accepts an Idempotency-Key header."
  },
  "servers": [{"url": "http://127.0.0.1:8080"}],
  "security": [{"bearer": []}, {"basic": []}],
  "paths": {
    "/healthz": {
      "get": {
        "summary": "The process is up",
        "operationId": "health",
        "security": [],
        "responses": {
          "200": {"description": "Up", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}}
        }
      }
    },
    "/readyz": {
      "get": {
        "summary": "The database is reachable and migrated",
        "operationId": "ready",
        "security": [],
        "responses": {
          "200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/metrics": {
      "get": {
        "summary": "Prometheus metrics",
        "operationId": "metrics",
        "security": [],
        "responses": {
          "200": {"description": "Prometheus text format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}
        }
      }
    },
    "/openapi.json": {
      "get": {
        "summary": "This document",
        "operationId": "openapi",
        "security": [],
        "responses": {
          "200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}
        }
      }
    },
    "/v1/organization": {
      "get": {
        "summary": "The caller's organization",
        "operationId": "getOrganization",
        "description": "Needs the read scope.",
        "responses": {
          "200": {"description": "The organization", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Organization"}}}},
          "401": {"$ref": "#/components/responses/Unauthenticated"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "429": {"$ref": "#/components/responses/RateLimited"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/api_keys": {
      "get": {
        "summary": "List the organization's API keys in the caller's mode",
        "operationId": "listApiKeys",
        "description": "Needs the admin scope. Secrets are never listed.",
        "responses": {
          "200": {"description": "The keys, newest first", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiKeyList"}}}},
          "401": {"$ref": "#/components/responses/Unauthenticated"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "429": {"$ref": "#/components/responses/RateLimited"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      },
      "post": {
        "summary": "Create an API key",
        "operationId": "createApiKey",
        "description": "Needs the admin scope. The key is in the caller's mode; its secret is in this response only.",
        "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {
            "type": "object",
            "additionalProperties": false,
            "required": ["scopes"],
            "properties": {
              "scopes": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/components/schemas/Scope"}},
              "description": {"type": "string", "maxLength": 500}
            }
          }}}
        },
        "responses": {
          "201": {"description": "The new key with its secret", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiKeyWithSecret"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthenticated"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "409": {"$ref": "#/components/responses/Conflict"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
          "422": {"$ref": "#/components/responses/IdempotencyMismatch"},
          "429": {"$ref": "#/components/responses/RateLimited"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/api_keys/{id}": {
      "get": {
        "summary": "Retrieve an API key",
        "operationId": "getApiKey",
        "description": "Needs the admin scope.",
        "parameters": [{"$ref": "#/components/parameters/KeyId"}],
        "responses": {
          "200": {"description": "The key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiKey"}}}},
          "401": {"$ref": "#/components/responses/Unauthenticated"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "429": {"$ref": "#/components/responses/RateLimited"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    },
    "/v1/api_keys/{id}/revoke": {
      "post": {
        "summary": "Revoke an API key",
        "operationId": "revokeApiKey",
        "description": "Needs the admin scope and a reason. Revoking a revoked key changes nothing.",
        "parameters": [{"$ref": "#/components/parameters/KeyId"}, {"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {
            "type": "object",
            "additionalProperties": false,
            "required": ["reason"],
            "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 500}}
          }}}
        },
        "responses": {
          "200": {"description": "The revoked key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiKey"}}}},
          "400": {"$ref": "#/components/responses/BadRequest"},
          "401": {"$ref": "#/components/responses/Unauthenticated"},
          "403": {"$ref": "#/components/responses/Forbidden"},
          "404": {"$ref": "#/components/responses/NotFound"},
          "409": {"$ref": "#/components/responses/Conflict"},
          "413": {"$ref": "#/components/responses/TooLarge"},
          "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
          "422": {"$ref": "#/components/responses/IdempotencyMismatch"},
          "429": {"$ref": "#/components/responses/RateLimited"},
          "503": {"$ref": "#/components/responses/Unavailable"}
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer sk_test_… or sk_live_…"},
      "basic": {"type": "http", "scheme": "basic", "description": "The API key as user name, no password"}
    },
    "parameters": {
      "IdempotencyKey": {
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Up to 255 printable characters. The same key with the same request replays the first response (header Idempotent-Replayed: true); with another request it is refused (422); while the first is still running, 409. Kept 24 hours.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255}
      },
      "KeyId": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^key_[0-9a-f]{24}$"}}
    },
    "responses": {
      "BadRequest": {"description": "A parameter is missing, unknown or invalid (param names it), or the body is not a JSON object of at most 32 levels", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthenticated": {"description": "No API key, or an unknown or revoked one", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Forbidden": {"description": "The key lacks the scope this route needs", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotFound": {"description": "No such object in the caller's organization and mode", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Conflict": {"description": "A request with the same Idempotency-Key is still running", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "TooLarge": {"description": "The body is larger than the limit (1 MiB by default)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "UnsupportedMediaType": {"description": "The body is not application/json", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "IdempotencyMismatch": {"description": "The Idempotency-Key was used with a different request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "RateLimited": {"description": "Too many requests for this key; see Retry-After", "headers": {"Retry-After": {"schema": {"type": "integer"}}}, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unavailable": {"description": "The database is unreachable or not migrated", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
          "type": "object",
          "required": ["type", "code", "message", "param"],
          "properties": {
            "type": {"type": "string", "enum": ["invalid_request_error", "authentication_error", "permission_error", "idempotency_error", "rate_limit_error", "api_error"]},
            "code": {"type": "string"},
            "message": {"type": "string"},
            "param": {"type": ["string", "null"]}
          }
        }}
      },
      "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "const": "ok"}}},
      "Ready": {"type": "object", "required": ["status", "schema_version"], "properties": {"status": {"type": "string", "const": "ready"}, "schema_version": {"type": "integer"}}},
      "Scope": {"type": "string", "enum": ["read", "write", "admin"]},
      "Organization": {
        "type": "object",
        "required": ["id", "object", "name", "livemode", "created_at"],
        "properties": {
          "id": {"type": "string", "format": "uuid"},
          "object": {"type": "string", "const": "organization"},
          "name": {"type": "string"},
          "livemode": {"type": "boolean"},
          "created_at": {"type": "string", "format": "date-time"}
        }
      },
      "ApiKey": {
        "type": "object",
        "required": ["id", "object", "hint", "livemode", "scopes", "description", "created_at", "revoked_at", "revocation_reason"],
        "properties": {
          "id": {"type": "string"},
          "object": {"type": "string", "const": "api_key"},
          "hint": {"type": "string", "description": "The prefix and last four characters of the secret"},
          "livemode": {"type": "boolean"},
          "scopes": {"type": "array", "items": {"$ref": "#/components/schemas/Scope"}},
          "description": {"type": ["string", "null"]},
          "created_at": {"type": "string", "format": "date-time"},
          "revoked_at": {"type": ["string", "null"], "format": "date-time"},
          "revocation_reason": {"type": ["string", "null"]}
        }
      },
      "ApiKeyWithSecret": {
        "allOf": [
          {"$ref": "#/components/schemas/ApiKey"},
          {"type": "object", "required": ["secret"], "properties": {"secret": {"type": "string", "pattern": "^sk_(test|live)_[0-9a-f]{64}$"}}}
        ]
      },
      "ApiKeyList": {
        "type": "object",
        "required": ["object", "url", "has_more", "data"],
        "properties": {
          "object": {"type": "string", "const": "list"},
          "url": {"type": "string"},
          "has_more": {"type": "boolean"},
          "data": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}}
        }
      }
    }
  }
}
"""#
}
