using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Edgewise.Server.Http;

/// <summary>
/// Requires <c>Authorization: Bearer KEY</c> on every route but <c>/health</c> (probes carry no secrets).
/// Keys are compared as SHA-256 digests with a fixed-time compare, so neither content nor length leaks
/// through timing.
/// </summary>
internal sealed class ApiKeyMiddleware(RequestDelegate next, string apiKey)
{
    private readonly byte[] _expected = SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));

    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Path.StartsWithSegments("/health") || HttpMethods.IsOptions(context.Request.Method))
            return next(context);

        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.Length == 0)
            throw Unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.");
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
            throw Unauthorized("The Authorization header must use the Bearer scheme.");
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        if (!CryptographicOperations.FixedTimeEquals(presented, _expected))
            throw Unauthorized("Incorrect API key provided.");
        return next(context);
    }

    private static ApiException Unauthorized(string message) =>
        new(StatusCodes.Status401Unauthorized, ErrorTypes.InvalidRequest, message, code: "invalid_api_key");
}

/// <summary>Counts every answered request by route template and status code.</summary>
internal sealed class RequestMetricsMiddleware(RequestDelegate next, Hosting.ServerMetrics metrics)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        finally
        {
            var route = (context.GetEndpoint() as Microsoft.AspNetCore.Routing.RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            metrics.RecordRequest(route, context.RequestAborted.IsCancellationRequested ? 499 : context.Response.StatusCode);
        }
    }
}
