using System.Text.Json;
using Edgewise.Server.Backend;
using Edgewise.Server.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Edgewise.Server.Http;

/// <summary>
/// Turns every failure into an error object with the right status, so no client error becomes a 500
/// and no exception takes the process down. Ollama routes (<c>/api/*</c>) get Ollama's <c>{"error":"..."}</c>.
/// Also gives bare 404/405 answers from routing an error body.
/// </summary>
internal sealed class ErrorHandlingMiddleware(RequestDelegate next, ILogger<ErrorHandlingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
            if (!context.Response.HasStarted && context.Response.ContentLength is null && context.Response.ContentType is null)
            {
                if (context.Response.StatusCode == StatusCodes.Status404NotFound)
                    await WriteAsync(context, new ApiException(404, ErrorTypes.NotFound, $"Unknown route: {context.Request.Method} {context.Request.Path}.", code: "unknown_url"));
                else if (context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed)
                    await WriteAsync(context, new ApiException(405, ErrorTypes.InvalidRequest, $"Method {context.Request.Method} is not allowed on {context.Request.Path}.", code: "method_not_allowed"));
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (ErrorSentInBandException sent)
        {
            // The stream carried the error object already.
            if (ToApiException(sent.InnerException!).StatusCode >= 500)
                logger.LogError(sent.InnerException, "Request {Method} {Path} failed while its stream waited", context.Request.Method, context.Request.Path);
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            var error = ToApiException(ex);
            if (error.StatusCode >= 500)
                logger.LogError(ex, "Request {Method} {Path} failed", context.Request.Method, context.Request.Path);
            await WriteAsync(context, error);
        }
        catch (Exception ex)
        {
            // Headers are out (a stream was running): the endpoint already wrote what it could; just log.
            logger.LogError(ex, "Request {Method} {Path} failed after the response started", context.Request.Method, context.Request.Path);
        }
    }

    /// <summary>Maps any exception to the error the client should see.</summary>
    public static ApiException ToApiException(Exception ex) => ex switch
    {
        ApiException api => api,
        BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status413PayloadTooLarge =>
            new ApiException(413, ErrorTypes.InvalidRequest, "Request body too large.", code: "request_too_large"),
        BadHttpRequestException bad => new ApiException(bad.StatusCode, ErrorTypes.InvalidRequest, bad.Message),
        // Syntax errors wrap the reader's exception; a value of the wrong type does not.
        JsonException json => ApiException.Invalid(JsonParam(json.Path), JsonMessage(json),
            json.InnerException is JsonException || JsonParam(json.Path) is null ? "invalid_json" : "invalid_type"),
        ContextOverflowException overflow => ApiException.Invalid("messages", overflow.Message, "context_length_exceeded"),
        InvalidSchemaException schema => ApiException.Invalid(schema.Param, schema.Message, "invalid_schema"),
        ModelNotFoundException missing => new ApiException(404, ErrorTypes.InvalidRequest, missing.Message, "model", "model_not_found"),
        UnsupportedRequestException unsupported => ApiException.Invalid(unsupported.Param, unsupported.Message, "unsupported_value"),
        _ => new ApiException(500, ErrorTypes.Server, "The server had an error while processing your request."),
    };

    public static Task WriteAsync(HttpContext context, ApiException error)
    {
        context.Response.Clear();
        context.Response.StatusCode = error.StatusCode;
        if (error.RetryAfterSeconds is { } seconds)
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (error.StatusCode == StatusCodes.Status401Unauthorized)
            context.Response.Headers.WWWAuthenticate = "Bearer";
        if (context.Request.Path.StartsWithSegments("/api"))
            return context.Response.WriteAsJsonAsync(new OllamaErrorDto(error.Message), ServerJsonContext.Default.OllamaErrorDto);
        return context.Response.WriteAsJsonAsync(ToEnvelope(error), ServerJsonContext.Default.ErrorEnvelopeDto);
    }

    public static ErrorEnvelopeDto ToEnvelope(ApiException error) =>
        new(new ErrorDto(error.Message, error.Type, error.Param, error.Code));

    // "$.messages[0].content" -> "messages[0].content", the param spelling OpenAI uses.
    private static string? JsonParam(string? path) =>
        string.IsNullOrEmpty(path) || path == "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string JsonMessage(JsonException json)
    {
        var param = JsonParam(json.Path);
        var where = json.LineNumber is { } line ? $" (line {line + 1}, byte {json.BytePositionInLine + 1})" : "";
        return param is null
            ? $"We could not parse the JSON body of your request{where}: {FirstSentence(json.Message)}"
            : $"Invalid value for '{param}'{where}: {FirstSentence(json.Message)}";
    }

    // System.Text.Json appends "Path: $... | LineNumber: ..." which the fields above already carry.
    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
