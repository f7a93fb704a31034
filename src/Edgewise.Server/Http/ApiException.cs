using Microsoft.AspNetCore.Http;

namespace Edgewise.Server.Http;

/// <summary>
/// A request the server refuses, carrying everything the OpenAI error object needs. Thrown anywhere in
/// request handling; <see cref="ErrorHandlingMiddleware"/> writes it.
/// </summary>
public sealed class ApiException : Exception
{
    public ApiException(int statusCode, string type, string message, string? param = null, string? code = null)
        : base(message)
    {
        StatusCode = statusCode;
        Type = type;
        Param = param;
        Code = code;
    }

    public int StatusCode { get; }

    /// <summary>OpenAI error type: <c>invalid_request_error</c>, <c>authentication_error</c>, ...</summary>
    public string Type { get; }

    public string? Param { get; }
    public string? Code { get; }

    /// <summary>Seconds for <c>Retry-After</c> (429, 503).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiException Invalid(string? param, string message, string? code = null) =>
        new(StatusCodes.Status400BadRequest, ErrorTypes.InvalidRequest, message, param, code);

    public static ApiException Missing(string param) =>
        Invalid(param, $"Missing required parameter: '{param}'.", "missing_required_parameter");

    public static ApiException WrongType(string param, string expected) =>
        Invalid(param, $"Invalid type for '{param}': expected {expected}.", "invalid_type");

    public static ApiException OutOfRange(string param, string expected, string found) =>
        Invalid(param, $"Invalid value for '{param}': expected {expected}, found {found}.", "invalid_value");
}

public static class ErrorTypes
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string NotFound = "not_found_error";
    public const string RateLimit = "rate_limit_error";
    public const string Server = "server_error";
    public const string Unavailable = "service_unavailable_error";
}
