using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Edgewise.Server.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Edgewise.Server.Endpoints;

public static class HealthEndpoint
{
    /// <summary><c>GET /health</c>: 200 when ready, 503 while loading or after a failed load (llama-server semantics).</summary>
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        // Ollama clients probe "GET /" (and HEAD) to see whether a server is up.
        app.MapMethods("/", ["GET", "HEAD"], () => TypedResults.Text("Edgewise is running (OpenAI- and Ollama-compatible API)"));
        app.MapGet("/health", (HttpContext http) =>
        {
            var status = http.RequestServices.GetRequiredService<ServerState>().Backend.Status;
            var (code, text) = status.State switch
            {
                BackendState.Ready => (StatusCodes.Status200OK, "ok"),
                BackendState.Loading => (StatusCodes.Status503ServiceUnavailable, "loading"),
                _ => (StatusCodes.Status503ServiceUnavailable, "error"),
            };
            return TypedResults.Json(new HealthDto(text, status.Message), ServerJsonContext.Default.HealthDto, statusCode: code);
        });
        return app;
    }
}

public static class MetricsEndpoint
{
    /// <summary><c>GET /metrics</c>: Prometheus text exposition format 0.0.4.</summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", (HttpContext http) =>
        {
            var state = http.RequestServices.GetRequiredService<ServerState>();
            var text = state.Metrics.Render(state.Queue, state.Backend.Status, state.Backend.GetStats());
            return TypedResults.Text(text, "text/plain; version=0.0.4; charset=utf-8");
        });
        return app;
    }
}
