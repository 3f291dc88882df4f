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
  "servers": [
    {
      "url": "http://127.0.0.1:8080"
    }
  ],
  "security": [
    {
      "bearer": []
    },
    {
      "basic": []
    }
  ],
  "paths": {
    "/healthz": {
      "get": {
        "summary": "The process is up",
        "operationId": "health",
        "security": [],
        "responses": {
          "200": {
            "description": "Up",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Status"
                }
              }
            }
          }
        }
      }
    },
    "/readyz": {
      "get": {
        "summary": "The database is reachable and migrated",
        "operationId": "ready",
        "security": [],
        "responses": {
          "200": {
            "description": "Ready",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Ready"
                }
              }
            }
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "summary": "Prometheus metrics",
        "operationId": "metrics",
        "security": [],
        "responses": {
          "200": {
            "description": "Prometheus text format 0.0.4",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          }
        }
      }
    },
    "/openapi.json": {
      "get": {
        "summary": "This document",
        "operationId": "openapi",
        "security": [],
        "responses": {
          "200": {
            "description": "OpenAPI 3.1",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          }
        }
      }
    },
    "/v1/organization": {
      "get": {
        "summary": "The caller's organization",
        "operationId": "getOrganization",
        "description": "Needs the read scope.",
        "responses": {
          "200": {
            "description": "The organization",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Organization"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          }
        }
      }
    },
    "/v1/api_keys": {
      "get": {
        "summary": "List the organization's API keys in the caller's mode",
        "operationId": "listApiKeys",
        "description": "Needs the admin scope. Secrets are never listed.",
        "responses": {
          "200": {
            "description": "The keys, newest first",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ApiKeyList"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          }
        }
      },
      "post": {
        "summary": "Create an API key",
        "operationId": "createApiKey",
        "description": "Needs the admin scope. The key is in the caller's mode; its secret is in this response only.",
        "parameters": [
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "scopes"
                ],
                "properties": {
                  "scopes": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 3,
                    "items": {
                      "$ref": "#/components/schemas/Scope"
                    }
                  },
                  "description": {
                    "type": "string",
                    "maxLength": 500
                  }
                }
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "The new key with its secret",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ApiKeyWithSecret"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          }
        }
      }
    },
    "/v1/api_keys/{id}": {
      "get": {
        "summary": "Retrieve an API key",
        "operationId": "getApiKey",
        "description": "Needs the admin scope.",
        "parameters": [
          {
            "$ref": "#/components/parameters/KeyId"
          }
        ],
        "responses": {
          "200": {
            "description": "The key",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ApiKey"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          }
        }
      }
    },
    "/v1/api_keys/{id}/revoke": {
      "post": {
        "summary": "Revoke an API key",
        "operationId": "revokeApiKey",
        "description": "Needs the admin scope and a reason. Revoking a revoked key changes nothing.",
        "parameters": [
          {
            "$ref": "#/components/parameters/KeyId"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "reason"
                ],
                "properties": {
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500
                  }
                }
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The revoked key",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ApiKey"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          }
        }
      }
    },
    "/v1/verifications": {
      "get": {
        "summary": "List verifications, newest first",
        "operationId": "listVerifications",
        "parameters": [
          {
            "name": "entity_id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "only this entity's"
          },
          {
            "name": "status",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "created",
                "pending",
                "capture_in_progress",
                "checks_in_progress",
                "screening_in_progress",
                "review_required",
                "retry_required",
                "approved",
                "declined",
                "inconclusive",
                "refused",
                "withdrawn",
                "expired"
              ]
            },
            "description": "only with this overall status"
          },
          {
            "name": "client_reference_id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "only with this reference"
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 100
            },
            "description": "1 to 100, default 10"
          },
          {
            "name": "starting_after",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "the id of the last object of the previous page"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "A page",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/VerificationList"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          }
        }
      },
      "post": {
        "summary": "Create a verification (the invite)",
        "operationId": "createVerification",
        "description": "Needs the write scope.",
        "parameters": [
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "entity_id",
                  "checks"
                ],
                "properties": {
                  "entity_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 200
                  },
                  "entity_type": {
                    "type": "string",
                    "enum": [
                      "person",
                      "business"
                    ]
                  },
                  "verification_type": {
                    "type": "string",
                    "enum": [
                      "kyc",
                      "kyb",
                      "age"
                    ]
                  },
                  "client_reference_id": {
                    "type": "string",
                    "maxLength": 200
                  },
                  "package_id": {
                    "type": "string",
                    "maxLength": 200
                  },
                  "checks": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": true,
                    "items": {
                      "type": "string",
                      "enum": [
                        "identity_verification",
                        "document",
                        "selfie",
                        "id_number",
                        "email",
                        "phone",
                        "aml_screening",
                        "background_check"
                      ]
                    }
                  },
                  "provider": {
                    "type": "string",
                    "enum": [
                      "sandbox"
                    ]
                  },
                  "applicant": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                      "first_name": {
                        "type": "string"
                      },
                      "last_name": {
                        "type": "string"
                      },
                      "email": {
                        "type": "string"
                      },
                      "address": {
                        "type": "string"
                      }
                    }
                  },
                  "metadata": {
                    "type": "object",
                    "maxProperties": 50,
                    "additionalProperties": {
                      "type": "string",
                      "maxLength": 500
                    }
                  },
                  "postback_url": {
                    "type": "string",
                    "format": "uri"
                  },
                  "postback_events": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "expires_at": {
                    "type": "string",
                    "format": "date-time",
                    "description": "default: 7 days from now"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "201": {
            "description": "The new verification",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          }
        }
      }
    },
    "/v1/verifications/{id}": {
      "get": {
        "summary": "Retrieve a verification",
        "operationId": "getVerification",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "as_of",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "format": "date-time"
            },
            "description": "an RFC 3339 time: the state the log held then"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "The verification",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                },
                "description": "the stream version"
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/events": {
      "get": {
        "summary": "The verification's events, oldest first",
        "operationId": "listVerificationEvents",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 100
            },
            "description": "1 to 100, default 100"
          },
          {
            "name": "starting_after",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "the id of the last event of the previous page"
          }
        ],
        "responses": {
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "Its history",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/EventList"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/attempts": {
      "post": {
        "summary": "Start an attempt (closes the open one as terminated, code 64001)",
        "operationId": "startAttempt",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [],
                "properties": {
                  "expires_in": {
                    "type": "integer",
                    "minimum": 60,
                    "maximum": 86400,
                    "description": "seconds the URL is valid, default 900"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "201": {
            "description": "Start an attempt (closes the open one as terminated, code 64001): the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Attempt"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/attempts/{attempt_id}/progress": {
      "post": {
        "summary": "Record an attempt's progress",
        "operationId": "recordAttemptProgress",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "attempt_id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "status"
                ],
                "properties": {
                  "status": {
                    "type": "string",
                    "enum": [
                      "pending_redirection",
                      "expired",
                      "capture_in_progress",
                      "checks_in_progress",
                      "completed",
                      "checks_inconclusive",
                      "capture_aborted",
                      "capture_refused",
                      "terminated"
                    ]
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "Record an attempt's progress: the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Attempt"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/results": {
      "post": {
        "summary": "Record a provider result for one check",
        "operationId": "recordResult",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "check",
                  "status"
                ],
                "properties": {
                  "check": {
                    "type": "string",
                    "enum": [
                      "identity_verification",
                      "document",
                      "selfie",
                      "id_number",
                      "email",
                      "phone",
                      "aml_screening",
                      "background_check"
                    ]
                  },
                  "status": {
                    "type": "string",
                    "enum": [
                      "created",
                      "pending",
                      "capture_in_progress",
                      "checks_in_progress",
                      "screening_in_progress",
                      "review_required",
                      "approved",
                      "declined",
                      "retry_required",
                      "inconclusive",
                      "refused"
                    ]
                  },
                  "response_codes": {
                    "type": "array",
                    "maxItems": 50,
                    "items": {
                      "oneOf": [
                        {
                          "type": "integer"
                        },
                        {
                          "type": "object",
                          "required": [
                            "code"
                          ],
                          "properties": {
                            "code": {
                              "type": "integer"
                            },
                            "summary": {
                              "type": "string"
                            }
                          }
                        }
                      ]
                    }
                  },
                  "signals": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                      "document_authenticity": {
                        "type": "string",
                        "enum": [
                          "pass",
                          "fail",
                          "pending"
                        ]
                      },
                      "face_match": {
                        "type": "string",
                        "enum": [
                          "pass",
                          "fail",
                          "pending"
                        ]
                      },
                      "liveness": {
                        "type": "string",
                        "enum": [
                          "pass",
                          "fail",
                          "pending"
                        ]
                      },
                      "aml": {
                        "type": "string",
                        "enum": [
                          "clear",
                          "match",
                          "pending"
                        ]
                      }
                    }
                  },
                  "extracted_data": {
                    "type": "object",
                    "properties": {
                      "first_name": {
                        "type": "string"
                      },
                      "last_name": {
                        "type": "string"
                      },
                      "date_of_birth": {
                        "type": "string"
                      },
                      "address": {
                        "type": "string"
                      },
                      "document": {
                        "type": "object",
                        "properties": {
                          "type": {
                            "type": "string"
                          },
                          "number": {
                            "type": "string"
                          },
                          "issuing_country": {
                            "type": "string"
                          },
                          "issue_date": {
                            "type": "string"
                          },
                          "expiry_date": {
                            "type": "string"
                          }
                        }
                      }
                    }
                  },
                  "risk_labels": {
                    "type": "array",
                    "items": {
                      "type": "string"
                    }
                  },
                  "provider_reference": {
                    "type": "string"
                  },
                  "raw": {},
                  "attempt_id": {
                    "type": "string"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "Record a provider result for one check: the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/score": {
      "post": {
        "summary": "A human reviewer's order score (completes the order)",
        "operationId": "assignScore",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "score",
                  "reason"
                ],
                "properties": {
                  "score": {
                    "type": "string",
                    "enum": [
                      "ID_VERIFIED",
                      "ID_NOT_VERIFIED",
                      "NO_ALERTS",
                      "ALERTS_FOUND",
                      "PENDING",
                      "REVIEW_REQUIRED",
                      "CLIENT_REVIEW",
                      "REVIEW_PASS",
                      "SCREENING_ALERT",
                      "SCREENING_NO_ALERT",
                      "SCREENING_PENDING",
                      "ON_HOLD",
                      "PRE_ADVERSE",
                      "ADVERSE_ACTION",
                      "WITHDRAWN"
                    ]
                  },
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "A human reviewer's order score (completes the order): the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/custom_scores": {
      "post": {
        "summary": "Set a named custom score",
        "operationId": "setCustomScore",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "name",
                  "value"
                ],
                "properties": {
                  "name": {
                    "type": "string",
                    "maxLength": 40
                  },
                  "value": {
                    "type": "string",
                    "maxLength": 100
                  },
                  "reason": {
                    "type": "string"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "Set a named custom score: the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/disputes": {
      "post": {
        "summary": "Open a dispute (order goes IN_DISPUTE)",
        "operationId": "openDispute",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "reason"
                ],
                "properties": {
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "201": {
            "description": "Open a dispute (order goes IN_DISPUTE): the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Dispute"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/disputes/{dispute_id}/resolve": {
      "post": {
        "summary": "Resolve a dispute",
        "operationId": "resolveDispute",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "dispute_id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "outcome",
                  "reason"
                ],
                "properties": {
                  "outcome": {
                    "type": "string",
                    "enum": [
                      "upheld",
                      "overturned"
                    ]
                  },
                  "score": {
                    "type": "string",
                    "enum": [
                      "ID_VERIFIED",
                      "ID_NOT_VERIFIED",
                      "NO_ALERTS",
                      "ALERTS_FOUND",
                      "PENDING",
                      "REVIEW_REQUIRED",
                      "CLIENT_REVIEW",
                      "REVIEW_PASS",
                      "SCREENING_ALERT",
                      "SCREENING_NO_ALERT",
                      "SCREENING_PENDING",
                      "ON_HOLD",
                      "PRE_ADVERSE",
                      "ADVERSE_ACTION",
                      "WITHDRAWN"
                    ]
                  },
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "Resolve a dispute: the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/override": {
      "post": {
        "summary": "Override the overall status (admin)",
        "operationId": "overrideStatus",
        "description": "Needs the admin scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "status",
                  "reason"
                ],
                "properties": {
                  "status": {
                    "type": "string",
                    "enum": [
                      "approved",
                      "declined",
                      "expired"
                    ]
                  },
                  "reason": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 500
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "Override the overall status (admin): the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/withdraw": {
      "post": {
        "summary": "Withdraw the verification",
        "operationId": "withdrawVerification",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [],
                "properties": {
                  "reason": {
                    "type": "string"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "Withdraw the verification: the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/verifications/{id}/metadata": {
      "post": {
        "summary": "Merge metadata (null removes a key)",
        "operationId": "updateMetadata",
        "description": "Needs the write scope. Refused with 409 invalid_transition when the verification's state does not allow it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          },
          {
            "name": "If-Match",
            "in": "header",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "The ETag of a read (the stream version, e.g. \"3\"): the command is refused with 409 if the verification changed since"
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "metadata"
                ],
                "properties": {
                  "metadata": {
                    "type": "object",
                    "additionalProperties": {
                      "type": [
                        "string",
                        "null"
                      ]
                    }
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "Merge metadata (null removes a key): the result",
            "headers": {
              "ETag": {
                "schema": {
                  "type": "string"
                }
              }
            },
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Verification"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/orders": {
      "get": {
        "summary": "List orders, newest first",
        "operationId": "listOrders",
        "parameters": [
          {
            "name": "package_id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "only this package"
          },
          {
            "name": "status",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "PENDING",
                "IN_PROGRESS",
                "IN_DISPUTE",
                "INCOMPLETE",
                "COMPLETE"
              ]
            },
            "description": "only this status"
          },
          {
            "name": "score",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "ID_VERIFIED",
                "ID_NOT_VERIFIED",
                "NO_ALERTS",
                "ALERTS_FOUND",
                "PENDING",
                "REVIEW_REQUIRED",
                "CLIENT_REVIEW",
                "REVIEW_PASS",
                "SCREENING_ALERT",
                "SCREENING_NO_ALERT",
                "SCREENING_PENDING",
                "ON_HOLD",
                "PRE_ADVERSE",
                "ADVERSE_ACTION",
                "WITHDRAWN"
              ]
            },
            "description": "only this score"
          },
          {
            "name": "entity_id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "only this entity's"
          },
          {
            "name": "created[gte]",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "created at or after (RFC 3339 or Unix seconds)"
          },
          {
            "name": "created[gt]",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "created after"
          },
          {
            "name": "created[lte]",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "created at or before"
          },
          {
            "name": "created[lt]",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "created before"
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 100
            },
            "description": "1 to 100, default 10"
          },
          {
            "name": "starting_after",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "the id of the last object of the previous page"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "A page",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/OrderList"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          }
        }
      }
    },
    "/v1/orders/{id}": {
      "get": {
        "summary": "Retrieve an order (404 until the flow first ends)",
        "operationId": "getOrder",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            },
            "description": "The verification's id (ver_\u2026); an order has its verification's id"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "The order",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Order"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/webhook_endpoints": {
      "get": {
        "summary": "List webhook endpoints",
        "operationId": "listWebhookEndpoints",
        "description": "Needs the read scope. Secrets are never listed.",
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "The endpoints",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "object",
                    "data"
                  ],
                  "properties": {
                    "object": {
                      "const": "list"
                    },
                    "url": {
                      "type": "string"
                    },
                    "has_more": {
                      "type": "boolean"
                    },
                    "data": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/WebhookEndpoint"
                      }
                    }
                  }
                }
              }
            }
          }
        }
      },
      "post": {
        "summary": "Create a webhook endpoint",
        "operationId": "createWebhookEndpoint",
        "description": "Needs the admin scope. The signing secret (whsec_\u2026) is in this response only.",
        "parameters": [
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "url",
                  "events"
                ],
                "properties": {
                  "url": {
                    "type": "string",
                    "format": "uri",
                    "maxLength": 2048,
                    "description": "https in live mode; loopback, link-local and private addresses are refused unless LEDGER_WEBHOOK_ALLOW_PRIVATE=1"
                  },
                  "events": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                      "type": "string",
                      "enum": [
                        "VERIFICATION_STATUS_CHANGE",
                        "CHECK_STATUS_CHANGE",
                        "ATTEMPT_STATUS_CHANGE",
                        "ORDER_STATUS_CHANGE",
                        "ORDER_SCORE_CHANGE",
                        "ORDER_CUSTOM_SCORE_CHANGE",
                        "ORDER_DISPUTE_RESOLVED",
                        "*"
                      ]
                    }
                  },
                  "delivery_mode": {
                    "type": "string",
                    "enum": [
                      "ordered",
                      "concurrent"
                    ],
                    "description": "ordered (default): a verification's messages to this endpoint are sent one after the other; concurrent: as they come, the receiver ordering them by sequence"
                  },
                  "description": {
                    "type": "string",
                    "maxLength": 500
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "201": {
            "description": "The endpoint with its secret",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/WebhookEndpointWithSecret"
                }
              }
            }
          }
        }
      }
    },
    "/v1/webhook_endpoints/{id}": {
      "get": {
        "summary": "Retrieve a webhook endpoint",
        "operationId": "getWebhookEndpoint",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "The endpoint",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/WebhookEndpoint"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      },
      "post": {
        "summary": "Update a webhook endpoint (url, events, description, delivery_mode; enabled to disable or enable it)",
        "operationId": "updateWebhookEndpoint",
        "description": "Needs the admin scope.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [],
                "properties": {
                  "url": {
                    "type": "string",
                    "format": "uri",
                    "maxLength": 2048,
                    "description": "https in live mode; loopback, link-local and private addresses are refused unless LEDGER_WEBHOOK_ALLOW_PRIVATE=1"
                  },
                  "events": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                      "type": "string",
                      "enum": [
                        "VERIFICATION_STATUS_CHANGE",
                        "CHECK_STATUS_CHANGE",
                        "ATTEMPT_STATUS_CHANGE",
                        "ORDER_STATUS_CHANGE",
                        "ORDER_SCORE_CHANGE",
                        "ORDER_CUSTOM_SCORE_CHANGE",
                        "ORDER_DISPUTE_RESOLVED",
                        "*"
                      ]
                    }
                  },
                  "delivery_mode": {
                    "type": "string",
                    "enum": [
                      "ordered",
                      "concurrent"
                    ],
                    "description": "ordered (default): a verification's messages to this endpoint are sent one after the other; concurrent: as they come, the receiver ordering them by sequence"
                  },
                  "description": {
                    "type": "string",
                    "maxLength": 500
                  },
                  "enabled": {
                    "type": "boolean"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "The endpoint",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/WebhookEndpoint"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      },
      "delete": {
        "summary": "Delete a webhook endpoint",
        "operationId": "deleteWebhookEndpoint",
        "description": "Needs the admin scope. What was still queued for it is dead-lettered (dead_reason says why).",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "Deleted",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "id",
                    "object",
                    "deleted"
                  ],
                  "properties": {
                    "id": {
                      "type": "string"
                    },
                    "object": {
                      "const": "webhook_endpoint"
                    },
                    "deleted": {
                      "const": true
                    }
                  }
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          }
        }
      }
    },
    "/v1/webhook_endpoints/{id}/recover": {
      "post": {
        "summary": "Queue again every message to the endpoint since a time that was not delivered (dead or pending)",
        "operationId": "recoverWebhookEndpoint",
        "description": "Needs the admin scope. A message being sent at that moment is left to its dispatcher.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "type": "object",
                "additionalProperties": false,
                "required": [
                  "since"
                ],
                "properties": {
                  "since": {
                    "type": "string",
                    "format": "date-time",
                    "description": "RFC 3339; messages queued at or after it, not in the future"
                  }
                }
              }
            }
          }
        },
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "How many messages were queued again",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "object",
                    "endpoint_id",
                    "since",
                    "requeued"
                  ],
                  "properties": {
                    "object": {
                      "const": "webhook_recovery"
                    },
                    "endpoint_id": {
                      "type": "string"
                    },
                    "since": {
                      "type": "string"
                    },
                    "requeued": {
                      "type": "integer",
                      "minimum": 0
                    }
                  }
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/webhook_endpoints/{id}/rotate_secret": {
      "post": {
        "summary": "Rotate an endpoint's signing secret (the old one also signs for 24 hours)",
        "operationId": "rotateWebhookEndpointSecret",
        "description": "Needs the admin scope.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "The endpoint with its new secret",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/WebhookEndpointWithSecret"
                }
              }
            }
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          }
        }
      }
    },
    "/v1/webhook_secret": {
      "get": {
        "summary": "The secret that signs invite postbacks (created on first read)",
        "operationId": "getWebhookSecret",
        "description": "Needs the admin scope.",
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "The secret",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "object",
                    "secret",
                    "previous_secret_expires_at"
                  ],
                  "properties": {
                    "object": {
                      "const": "webhook_secret"
                    },
                    "secret": {
                      "type": "string"
                    },
                    "previous_secret_expires_at": {
                      "type": [
                        "string",
                        "null"
                      ]
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "/v1/webhook_secret/rotate": {
      "post": {
        "summary": "Rotate the postback secret (the old one also signs for 24 hours)",
        "operationId": "rotateWebhookSecret",
        "description": "Needs the admin scope.",
        "parameters": [
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "413": {
            "$ref": "#/components/responses/TooLarge"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          },
          "200": {
            "description": "The new secret",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "object",
                    "secret",
                    "previous_secret_expires_at"
                  ],
                  "properties": {
                    "object": {
                      "const": "webhook_secret"
                    },
                    "secret": {
                      "type": "string"
                    },
                    "previous_secret_expires_at": {
                      "type": [
                        "string",
                        "null"
                      ]
                    }
                  }
                }
              }
            }
          }
        }
      }
    },
    "/v1/webhook_deliveries": {
      "get": {
        "summary": "List webhook deliveries, newest first, with every attempt",
        "operationId": "listWebhookDeliveries",
        "parameters": [
          {
            "name": "endpoint_id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "only to this endpoint"
          },
          {
            "name": "event_type",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "only of this type"
          },
          {
            "name": "status",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string",
              "enum": [
                "pending",
                "delivered",
                "dead"
              ]
            },
            "description": "pending, delivered or dead"
          },
          {
            "name": "verification_id",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "only about this verification"
          },
          {
            "name": "limit",
            "in": "query",
            "required": false,
            "schema": {
              "type": "integer",
              "minimum": 1,
              "maximum": 100
            },
            "description": "1 to 100, default 10"
          },
          {
            "name": "starting_after",
            "in": "query",
            "required": false,
            "schema": {
              "type": "string"
            },
            "description": "the id of the last delivery of the previous page"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "A page",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "required": [
                    "object",
                    "data",
                    "has_more"
                  ],
                  "properties": {
                    "object": {
                      "const": "list"
                    },
                    "url": {
                      "type": "string"
                    },
                    "has_more": {
                      "type": "boolean"
                    },
                    "data": {
                      "type": "array",
                      "items": {
                        "$ref": "#/components/schemas/WebhookDelivery"
                      }
                    }
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          }
        }
      }
    },
    "/v1/webhook_deliveries/{id}/retry": {
      "post": {
        "summary": "Send a pending or dead delivery again now",
        "operationId": "retryWebhookDelivery",
        "description": "Needs the write scope. 409 already_delivered once delivered, 409 delivery_in_flight while a dispatcher is sending it.",
        "parameters": [
          {
            "name": "id",
            "in": "path",
            "required": true,
            "schema": {
              "type": "string"
            }
          },
          {
            "$ref": "#/components/parameters/IdempotencyKey"
          }
        ],
        "responses": {
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "429": {
            "$ref": "#/components/responses/RateLimited"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "200": {
            "description": "Queued",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object",
                  "properties": {
                    "id": {
                      "type": "string"
                    },
                    "object": {
                      "const": "webhook_delivery"
                    },
                    "status": {
                      "const": "pending"
                    }
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "415": {
            "$ref": "#/components/responses/UnsupportedMediaType"
          },
          "422": {
            "$ref": "#/components/responses/IdempotencyMismatch"
          }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer sk_test_\u2026 or sk_live_\u2026"
      },
      "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "The API key as user name, no password"
      }
    },
    "parameters": {
      "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Up to 255 printable characters. The same key with the same request replays the first response (header Idempotent-Replayed: true); with another request it is refused (422); while the first is still running, 409. Kept 24 hours.",
        "schema": {
          "type": "string",
          "minLength": 1,
          "maxLength": 255
        }
      },
      "KeyId": {
        "name": "id",
        "in": "path",
        "required": true,
        "schema": {
          "type": "string",
          "pattern": "^key_[0-9a-f]{24}$"
        }
      }
    },
    "responses": {
      "BadRequest": {
        "description": "A parameter is missing, unknown or invalid (param names it), or the body is not a JSON object of at most 32 levels",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Unauthenticated": {
        "description": "No API key, or an unknown or revoked one",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Forbidden": {
        "description": "The key lacks the scope this route needs",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "NotFound": {
        "description": "No such object in the caller's organization and mode",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Conflict": {
        "description": "A stale If-Match, a command the verification's state does not allow (invalid_transition), or a request with the same Idempotency-Key still running",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "TooLarge": {
        "description": "The body is larger than the limit (1 MiB by default)",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "UnsupportedMediaType": {
        "description": "The body is not application/json",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "IdempotencyMismatch": {
        "description": "The Idempotency-Key was used with a different request",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "RateLimited": {
        "description": "Too many requests for this key; see Retry-After",
        "headers": {
          "Retry-After": {
            "schema": {
              "type": "integer"
            }
          }
        },
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      },
      "Unavailable": {
        "description": "The database is unreachable or not migrated",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/Error"
            }
          }
        }
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": [
          "error"
        ],
        "properties": {
          "error": {
            "type": "object",
            "required": [
              "type",
              "code",
              "message",
              "param"
            ],
            "properties": {
              "type": {
                "type": "string",
                "enum": [
                  "invalid_request_error",
                  "authentication_error",
                  "permission_error",
                  "idempotency_error",
                  "rate_limit_error",
                  "api_error"
                ]
              },
              "code": {
                "type": "string"
              },
              "message": {
                "type": "string"
              },
              "param": {
                "type": [
                  "string",
                  "null"
                ]
              }
            }
          }
        }
      },
      "Status": {
        "type": "object",
        "required": [
          "status"
        ],
        "properties": {
          "status": {
            "type": "string",
            "const": "ok"
          }
        }
      },
      "Ready": {
        "type": "object",
        "required": [
          "status",
          "schema_version"
        ],
        "properties": {
          "status": {
            "type": "string",
            "const": "ready"
          },
          "schema_version": {
            "type": "integer"
          }
        }
      },
      "Scope": {
        "type": "string",
        "enum": [
          "read",
          "write",
          "admin"
        ]
      },
      "Organization": {
        "type": "object",
        "required": [
          "id",
          "object",
          "name",
          "livemode",
          "created_at"
        ],
        "properties": {
          "id": {
            "type": "string",
            "format": "uuid"
          },
          "object": {
            "type": "string",
            "const": "organization"
          },
          "name": {
            "type": "string"
          },
          "livemode": {
            "type": "boolean"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "ApiKey": {
        "type": "object",
        "required": [
          "id",
          "object",
          "hint",
          "livemode",
          "scopes",
          "description",
          "created_at",
          "revoked_at",
          "revocation_reason"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "type": "string",
            "const": "api_key"
          },
          "hint": {
            "type": "string",
            "description": "The prefix and last four characters of the secret"
          },
          "livemode": {
            "type": "boolean"
          },
          "scopes": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Scope"
            }
          },
          "description": {
            "type": [
              "string",
              "null"
            ]
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "revoked_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "revocation_reason": {
            "type": [
              "string",
              "null"
            ]
          }
        }
      },
      "ApiKeyWithSecret": {
        "allOf": [
          {
            "$ref": "#/components/schemas/ApiKey"
          },
          {
            "type": "object",
            "required": [
              "secret"
            ],
            "properties": {
              "secret": {
                "type": "string",
                "pattern": "^sk_(test|live)_[0-9a-f]{64}$"
              }
            }
          }
        ]
      },
      "ApiKeyList": {
        "type": "object",
        "required": [
          "object",
          "url",
          "has_more",
          "data"
        ],
        "properties": {
          "object": {
            "type": "string",
            "const": "list"
          },
          "url": {
            "type": "string"
          },
          "has_more": {
            "type": "boolean"
          },
          "data": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ApiKey"
            }
          }
        }
      },
      "Attempt": {
        "type": "object",
        "required": [
          "id",
          "object",
          "verification_id",
          "status",
          "url",
          "expires_at"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "const": "attempt"
          },
          "verification_id": {
            "type": "string"
          },
          "status": {
            "type": "string",
            "enum": [
              "pending_redirection",
              "expired",
              "capture_in_progress",
              "checks_in_progress",
              "completed",
              "checks_inconclusive",
              "capture_aborted",
              "capture_refused",
              "terminated"
            ]
          },
          "url": {
            "type": "string"
          },
          "expires_at": {
            "type": "string",
            "format": "date-time"
          },
          "response_code": {
            "oneOf": [
              {
                "type": "object",
                "required": [
                  "code",
                  "summary"
                ],
                "properties": {
                  "code": {
                    "type": "integer"
                  },
                  "summary": {
                    "type": [
                      "string",
                      "null"
                    ]
                  }
                }
              },
              {
                "type": "null"
              }
            ]
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          }
        }
      },
      "Dispute": {
        "type": "object",
        "required": [
          "id",
          "object",
          "status",
          "reason"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "const": "dispute"
          },
          "status": {
            "type": "string",
            "enum": [
              "open",
              "resolved"
            ]
          },
          "reason": {
            "type": "string"
          },
          "outcome": {
            "type": [
              "string",
              "null"
            ]
          },
          "score": {
            "type": [
              "string",
              "null"
            ]
          },
          "resolution": {
            "type": [
              "string",
              "null"
            ]
          },
          "opened_at": {
            "type": "string"
          },
          "resolved_at": {
            "type": [
              "string",
              "null"
            ]
          }
        }
      },
      "Check": {
        "type": "object",
        "required": [
          "type",
          "status",
          "response_codes",
          "signals",
          "recommended_action"
        ],
        "properties": {
          "type": {
            "type": "string",
            "enum": [
              "identity_verification",
              "document",
              "selfie",
              "id_number",
              "email",
              "phone",
              "aml_screening",
              "background_check"
            ]
          },
          "status": {
            "type": "string",
            "enum": [
              "created",
              "pending",
              "capture_in_progress",
              "checks_in_progress",
              "screening_in_progress",
              "review_required",
              "approved",
              "declined",
              "retry_required",
              "inconclusive",
              "refused"
            ]
          },
          "response_codes": {
            "type": "array",
            "items": {
              "type": "object",
              "required": [
                "code",
                "summary"
              ],
              "properties": {
                "code": {
                  "type": "integer"
                },
                "summary": {
                  "type": [
                    "string",
                    "null"
                  ]
                }
              }
            }
          },
          "signals": {
            "type": "object",
            "properties": {
              "document_authenticity": {
                "type": [
                  "string",
                  "null"
                ],
                "enum": [
                  "pass",
                  "fail",
                  "pending",
                  null
                ]
              },
              "face_match": {
                "type": [
                  "string",
                  "null"
                ],
                "enum": [
                  "pass",
                  "fail",
                  "pending",
                  null
                ]
              },
              "liveness": {
                "type": [
                  "string",
                  "null"
                ],
                "enum": [
                  "pass",
                  "fail",
                  "pending",
                  null
                ]
              },
              "aml": {
                "type": [
                  "string",
                  "null"
                ],
                "enum": [
                  "clear",
                  "match",
                  "pending",
                  null
                ]
              }
            }
          },
          "recommended_action": {
            "type": "string"
          },
          "updated_at": {
            "type": "string"
          }
        }
      },
      "Verification": {
        "type": "object",
        "required": [
          "id",
          "object",
          "status",
          "entity_id",
          "checks",
          "attempts",
          "metadata",
          "livemode",
          "expires_at",
          "created_at",
          "updated_at",
          "version"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "const": "verification"
          },
          "status": {
            "type": "string",
            "enum": [
              "created",
              "pending",
              "capture_in_progress",
              "checks_in_progress",
              "screening_in_progress",
              "review_required",
              "retry_required",
              "approved",
              "declined",
              "inconclusive",
              "refused",
              "withdrawn",
              "expired"
            ]
          },
          "entity_id": {
            "type": "string"
          },
          "entity_type": {
            "type": "string"
          },
          "verification_type": {
            "type": "string"
          },
          "client_reference_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "package_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "provider": {
            "type": "string"
          },
          "checks": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Check"
            }
          },
          "attempts": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Attempt"
            }
          },
          "applicant": {
            "type": "object"
          },
          "metadata": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "postback_url": {
            "type": [
              "string",
              "null"
            ]
          },
          "postback_events": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "livemode": {
            "type": "boolean"
          },
          "expires_at": {
            "type": "string",
            "format": "date-time"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "updated_at": {
            "type": "string",
            "format": "date-time"
          },
          "version": {
            "type": "integer"
          }
        }
      },
      "Order": {
        "type": "object",
        "required": [
          "id",
          "object",
          "verification_id",
          "status",
          "score",
          "alert",
          "custom_scores",
          "user",
          "documents",
          "checks",
          "disputes",
          "metadata"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "const": "order"
          },
          "verification_id": {
            "type": "string"
          },
          "status": {
            "type": "string",
            "enum": [
              "PENDING",
              "IN_PROGRESS",
              "IN_DISPUTE",
              "INCOMPLETE",
              "COMPLETE"
            ]
          },
          "score": {
            "type": "string",
            "enum": [
              "ID_VERIFIED",
              "ID_NOT_VERIFIED",
              "NO_ALERTS",
              "ALERTS_FOUND",
              "PENDING",
              "REVIEW_REQUIRED",
              "CLIENT_REVIEW",
              "REVIEW_PASS",
              "SCREENING_ALERT",
              "SCREENING_NO_ALERT",
              "SCREENING_PENDING",
              "ON_HOLD",
              "PRE_ADVERSE",
              "ADVERSE_ACTION",
              "WITHDRAWN"
            ]
          },
          "alert": {
            "type": [
              "string",
              "null"
            ],
            "enum": [
              "ALERTS_FOUND",
              "NO_ALERTS_FOUND",
              null
            ]
          },
          "custom_scores": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "user": {
            "type": "object"
          },
          "documents": {
            "type": "array",
            "items": {
              "type": "object"
            }
          },
          "checks": {
            "type": "array",
            "items": {
              "type": "object"
            }
          },
          "disputes": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Dispute"
            }
          },
          "metadata": {
            "type": "object",
            "additionalProperties": {
              "type": "string"
            }
          },
          "package_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "entity_id": {
            "type": "string"
          },
          "created_at": {
            "type": "string"
          },
          "updated_at": {
            "type": "string"
          },
          "completed_at": {
            "type": [
              "string",
              "null"
            ]
          }
        }
      },
      "VerificationList": {
        "type": "object",
        "required": [
          "object",
          "url",
          "has_more",
          "data"
        ],
        "properties": {
          "object": {
            "const": "list"
          },
          "url": {
            "type": "string"
          },
          "has_more": {
            "type": "boolean"
          },
          "data": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Verification"
            }
          }
        }
      },
      "OrderList": {
        "type": "object",
        "required": [
          "object",
          "url",
          "has_more",
          "data"
        ],
        "properties": {
          "object": {
            "const": "list"
          },
          "url": {
            "type": "string"
          },
          "has_more": {
            "type": "boolean"
          },
          "data": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Order"
            }
          }
        }
      },
      "Event": {
        "type": "object",
        "required": [
          "id",
          "object",
          "type",
          "version",
          "occurred_at",
          "data",
          "metadata",
          "hash"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "const": "event"
          },
          "type": {
            "type": "string"
          },
          "schema_version": {
            "type": "integer",
            "description": "The shape of data: events keep the shape they were written in (MetadataUpdated 1 held the changes as data itself, 2 under changes)."
          },
          "version": {
            "type": "integer"
          },
          "position": {
            "type": "integer"
          },
          "occurred_at": {
            "type": "string"
          },
          "data": {},
          "metadata": {
            "type": "object"
          },
          "hash": {
            "type": "string"
          }
        }
      },
      "EventList": {
        "type": "object",
        "required": [
          "object",
          "url",
          "has_more",
          "data"
        ],
        "properties": {
          "object": {
            "const": "list"
          },
          "url": {
            "type": "string"
          },
          "has_more": {
            "type": "boolean"
          },
          "data": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Event"
            }
          }
        }
      },
      "WebhookEndpoint": {
        "type": "object",
        "required": [
          "id",
          "object",
          "url",
          "events",
          "enabled",
          "livemode"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "const": "webhook_endpoint"
          },
          "url": {
            "type": "string"
          },
          "events": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "description": {
            "type": [
              "string",
              "null"
            ]
          },
          "enabled": {
            "type": "boolean"
          },
          "disabled_reason": {
            "type": [
              "string",
              "null"
            ]
          },
          "livemode": {
            "type": "boolean"
          },
          "created_at": {
            "type": "string"
          },
          "updated_at": {
            "type": "string"
          },
          "previous_secret_expires_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "delivery_mode": {
            "type": "string",
            "enum": [
              "ordered",
              "concurrent"
            ]
          }
        }
      },
      "WebhookEndpointWithSecret": {
        "allOf": [
          {
            "$ref": "#/components/schemas/WebhookEndpoint"
          },
          {
            "type": "object",
            "required": [
              "secret"
            ],
            "properties": {
              "secret": {
                "type": "string",
                "pattern": "^whsec_"
              }
            }
          }
        ]
      },
      "WebhookDelivery": {
        "type": "object",
        "required": [
          "id",
          "object",
          "url",
          "event_type",
          "verification_id",
          "status",
          "attempts"
        ],
        "properties": {
          "id": {
            "type": "string"
          },
          "object": {
            "const": "webhook_delivery"
          },
          "endpoint_id": {
            "type": [
              "string",
              "null"
            ]
          },
          "url": {
            "type": "string"
          },
          "event_type": {
            "type": "string"
          },
          "verification_id": {
            "type": "string"
          },
          "status": {
            "type": "string",
            "enum": [
              "pending",
              "delivered",
              "dead"
            ]
          },
          "attempt_count": {
            "type": "integer"
          },
          "sequence": {
            "type": [
              "integer",
              "null"
            ],
            "description": "1, 2, 3\u2026 per verification and destination, as in the payload"
          },
          "previous_message_id": {
            "type": [
              "string",
              "null"
            ],
            "description": "the message before this one to the same destination about the same verification (null for the first)"
          },
          "dead_reason": {
            "type": [
              "string",
              "null"
            ]
          },
          "waiting_for": {
            "type": [
              "object",
              "null"
            ],
            "description": "for a pending message, what it waits for; null once delivered or dead",
            "required": [
              "reason"
            ],
            "properties": {
              "reason": {
                "type": "string",
                "enum": [
                  "due",
                  "in_flight",
                  "retry_scheduled",
                  "earlier_message_pending",
                  "endpoint_disabled"
                ]
              },
              "message_id": {
                "type": "string",
                "description": "earlier_message_pending: the message it waits behind"
              },
              "next_attempt_at": {
                "type": "string",
                "description": "retry_scheduled: when the next attempt is due"
              },
              "leased_until": {
                "type": "string",
                "description": "in_flight: until when a dispatcher holds it"
              }
            }
          },
          "next_attempt_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "created_at": {
            "type": "string"
          },
          "delivered_at": {
            "type": [
              "string",
              "null"
            ]
          },
          "attempts": {
            "type": "array",
            "items": {
              "type": "object",
              "properties": {
                "attempted_at": {
                  "type": "string"
                },
                "response_status": {
                  "type": [
                    "integer",
                    "null"
                  ]
                },
                "latency_ms": {
                  "type": "number"
                },
                "response_excerpt": {
                  "type": [
                    "string",
                    "null"
                  ]
                },
                "error": {
                  "type": [
                    "string",
                    "null"
                  ]
                }
              }
            }
          }
        }
      }
    }
  }
}
"""#
}
