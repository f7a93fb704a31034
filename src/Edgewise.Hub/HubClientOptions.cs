using System.Reflection;

namespace Edgewise.Hub;

/// <summary>Where the hub is, who we are, and how patient to be. Defaults suit huggingface.co over a home line.</summary>
public sealed record HubClientOptions
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>Hub base address (<c>HF_ENDPOINT</c>); mirrors and test servers go here.</summary>
    public Uri Endpoint { get; init; } = new(DefaultEndpoint);

    /// <summary>Access token sent as <c>Authorization: Bearer</c>, only ever to <see cref="Endpoint"/>'s host.</summary>
    public string? Token { get; init; }

    /// <summary>Attempts per request when the hub answers 5xx/429 or the connection cannot be opened.</summary>
    public int MaxAttempts { get; init; } = 4;

    /// <summary>First retry delay; doubled on each later attempt.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait for a response's headers (each hop of a redirect chain counts once).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest silence while reading a body before the download counts as lost (and resumable).</summary>
    public TimeSpan ReadIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public string UserAgent { get; init; } = "edgewise/" + Version;

    /// <summary>Reads <c>HF_ENDPOINT</c>, <c>HF_TOKEN</c> and, failing that, the token file <c>huggingface-cli login</c> writes.</summary>
    public static HubClientOptions FromEnvironment()
    {
        var options = new HubClientOptions();
        var endpoint = Environment.GetEnvironmentVariable("HF_ENDPOINT");
        if (!string.IsNullOrWhiteSpace(endpoint))
        {
            if (!Uri.TryCreate(endpoint.Trim().TrimEnd('/'), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                throw new HubException(HubErrorKind.InvalidResponse, $"HF_ENDPOINT: expected an absolute http(s) URL, found '{endpoint}'.");
            }
            options = options with { Endpoint = uri };
        }
        return options with { Token = ReadToken() };
    }

    private static string? ReadToken()
    {
        var token = Environment.GetEnvironmentVariable("HF_TOKEN");
        if (!string.IsNullOrWhiteSpace(token))
        {
            return token.Trim();
        }
        var tokenPath = Environment.GetEnvironmentVariable("HF_TOKEN_PATH");
        if (string.IsNullOrWhiteSpace(tokenPath))
        {
            var hfHome = Environment.GetEnvironmentVariable("HF_HOME");
            hfHome = string.IsNullOrWhiteSpace(hfHome)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface")
                : hfHome;
            tokenPath = Path.Combine(hfHome, "token");
        }
        try
        {
            return File.Exists(tokenPath) ? File.ReadAllText(tokenPath).Trim() is { Length: > 0 } t ? t : null : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Version =>
        typeof(HubClientOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}
