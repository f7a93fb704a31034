using Xunit;

namespace Edgewise.Hub.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void EnvironmentSetsEndpointTokenAndStoreRoot()
    {
        var saved = (Get("HF_ENDPOINT"), Get("HF_TOKEN"), Get("EDGEWISE_HOME"));
        try
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", "https://hf-mirror.example.org/");
            Environment.SetEnvironmentVariable("HF_TOKEN", " hf_abc ");
            Environment.SetEnvironmentVariable("EDGEWISE_HOME", "/tmp/edgewise-home-test");
            var options = HubClientOptions.FromEnvironment();
            Assert.Equal("hf-mirror.example.org", options.Endpoint.Host);
            Assert.Equal("hf_abc", options.Token);
            Assert.StartsWith("edgewise/", options.UserAgent, StringComparison.Ordinal);
            Assert.Equal("/tmp/edgewise-home-test", ModelStoreOptions.DefaultRoot());

            Environment.SetEnvironmentVariable("HF_ENDPOINT", "ftp://nope");
            Assert.Throws<HubException>(HubClientOptions.FromEnvironment);

            Environment.SetEnvironmentVariable("HF_ENDPOINT", null);
            Assert.Equal(new Uri(HubClientOptions.DefaultEndpoint), HubClientOptions.FromEnvironment().Endpoint);
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_ENDPOINT", saved.Item1);
            Environment.SetEnvironmentVariable("HF_TOKEN", saved.Item2);
            Environment.SetEnvironmentVariable("EDGEWISE_HOME", saved.Item3);
        }
    }

    private static string? Get(string name) => Environment.GetEnvironmentVariable(name);
}
