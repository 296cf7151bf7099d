using System.CommandLine;
using System.Net.Http;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using Kai.Client;
using Kai.Protocol;

namespace Kai.Cli.Cli;

/// <summary>
/// What every command needs: the resolved hub URL, the config store, and clients signed in the way the environment says.
/// Precedence for the URL: <c>--url</c>, <c>KAI_URL</c>, the saved URL, <c>http://127.0.0.1:8000</c>.
/// Precedence for the user's token: <c>KAI_TOKEN</c>, the saved tokens (when saved for this URL), a login with
/// <c>KAI_EMAIL</c>/<c>KAI_PASSWORD</c>.
/// </summary>
internal sealed class CliContext
{
    /// <summary>The global <c>--url</c> option.</summary>
    public static readonly Option<string?> UrlOption = new("--url")
    {
        Description = "The hub's base URL (default: $KAI_URL, else the URL of the last login, else http://127.0.0.1:8000).",
        Recursive = true,
    };

    private CliContext(ParseResult parse, ConfigStore store)
    {
        Store = store;
        Config = store.Load();
        ExplicitUrl = parse.GetValue(UrlOption) ?? Env("KAI_URL");
        Url = (ExplicitUrl ?? Config.Url ?? ConfigStore.DefaultUrl).TrimEnd('/');
        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CliException($"'{Url}' is not an http(s) URL.", ExitCodes.Usage);
        }
    }

    public ConfigStore Store { get; }

    public CliConfig Config { get; private set; }

    /// <summary>The URL given with <c>--url</c> or <c>KAI_URL</c>, if any.</summary>
    public string? ExplicitUrl { get; }

    /// <summary>The hub URL, without a trailing slash.</summary>
    public string Url { get; }

    /// <summary>Whether a client was made from the saved tokens (so a 401 means the saved session is no longer valid).</summary>
    public bool UsesSavedSession { get; private set; }

    public static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    /// <summary>A client with no token, for register and login.</summary>
    public HubClient AnonymousClient() => new(new Uri(Url));

    /// <summary>A client signed in as the user. Refreshed tokens are saved back to the config file.</summary>
    /// <exception cref="NotLoggedInException">No token and no <c>KAI_EMAIL</c>/<c>KAI_PASSWORD</c>.</exception>
    public async Task<HubClient> UserClientAsync(CancellationToken ct)
    {
        var client = new HubClient(new Uri(Url));
        try
        {
            if (Env("KAI_TOKEN") is { } token)
            {
                client.UseTokens(token, null);
                return client;
            }
            client.TokensChanged += SaveTokens;
            Config = Store.Load();
            if (Config.AccessToken is { } access && SameUrl(Config.Url, Url))
            {
                UsesSavedSession = true;
                client.UseTokens(access, Config.RefreshToken);
                return client;
            }
            if (Env("KAI_EMAIL") is { } email && Env("KAI_PASSWORD") is { } password)
            {
                await client.LoginAsync(email, password, ct);
                return client;
            }
            throw new NotLoggedInException(Url);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Reloads the saved tokens, in case another <c>kai</c> process rotated them meanwhile.</summary>
    public void ReloadTokens(HubClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (Env("KAI_TOKEN") is null && Store.Load() is { AccessToken: { } access } saved && SameUrl(saved.Url, Url) && access != client.AccessToken)
        {
            Config = saved;
            client.UseTokens(access, saved.RefreshToken);
        }
    }

    /// <summary>Persists a login or refresh. The refresh token is single use, so the newest one must always be on disk.</summary>
    public void SaveTokens(Kai.Protocol.Rest.TokenResponse tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        Config = new CliConfig(Url, tokens.UserProfile.Email, tokens.UserProfile.UserId, tokens.AccessToken, tokens.RefreshToken);
        Store.Save(Config);
    }

    public void ForgetTokens()
    {
        Config = Config with { AccessToken = null, RefreshToken = null };
        Store.Save(Config);
    }

    private static bool SameUrl(string? a, string b) => a is not null && string.Equals(a.TrimEnd('/'), b, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Wraps a command body: builds the context and turns the expected failures into one clear line on stderr and an exit code.
    /// </summary>
    public static Func<ParseResult, CancellationToken, Task<int>> Action(Func<CliContext, ParseResult, CancellationToken, Task<int>> body) =>
        async (parse, ct) =>
        {
            CliContext? context = null;
            try
            {
                context = new CliContext(parse, ConfigStore.FromEnvironment());
                return await body(context, parse, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return ExitCodes.Interrupted;
            }
            catch (Exception ex)
            {
                var (message, code) = Describe(ex, context?.Url ?? ConfigStore.DefaultUrl, context?.UsesSavedSession ?? false);
                Console.Error.WriteLine(message);
                return code;
            }
        };

    /// <summary>The line printed for an exception, and the exit code.</summary>
    public static (string Message, int ExitCode) Describe(Exception ex, string url, bool savedSession = false)
    {
        ArgumentNullException.ThrowIfNull(ex);
        return ex switch
        {
            HubApiException api => (
                $"error {api.Code}: {api.HubMessage}" + (api.CorrelationId is { } cid ? $" (correlation id {cid})" : "")
                + (savedSession && api.Status == 401 ? Environment.NewLine + "hint: your session may have expired; run `kai login`" : ""),
                ExitCodes.Error),
            NotLoggedInException => ("error: " + ex.Message, ExitCodes.Error),
            CliException cli => ("error: " + cli.Message, cli.ExitCode),
            HttpRequestException or WebSocketException when IsUnreachable(ex) => (
                $"error: cannot reach the hub at {url} ({ex.Message})." + Environment.NewLine
                + "hint: start one with `dotnet run --project src/Kai.Hub`, or point kai at yours with --url or KAI_URL.",
                ExitCodes.Error),
            HttpRequestException or WebSocketException => ($"error: talking to the hub at {url} failed: {ex.Message}", ExitCodes.Error),
            HubLinkClosedException closed => ($"error: the hub closed the link ({closed.Code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no code"}): {DescribeClose(closed)}", ExitCodes.Error),
            JsonException json => ("error: invalid JSON: " + json.Message, ExitCodes.Usage),
            IOException or UnauthorizedAccessException or InvalidDataException => ("error: " + ex.Message, ExitCodes.Error),
            TimeoutException => ("error: timed out: " + ex.Message, ExitCodes.Error),
            _ => ("error: unexpected " + ex, ExitCodes.Error),
        };
    }

    private static string DescribeClose(HubLinkClosedException ex) => ex.Code switch
    {
        CloseCodes.AuthenticationFailed => "the token was rejected; run `kai login`",
        CloseCodes.InvalidSession => "the agent is unknown, deleted, or not yours",
        CloseCodes.Replaced => "another process connected as this agent",
        CloseCodes.SessionExpired => "the token expired or the session was revoked (logout, role change, disabled user, rotated agent secret)",
        CloseCodes.RateLimited => "rate limited (too many frames or open links); try again later",
        CloseCodes.TryAgainLater => "the hub node is full; try again later",
        _ => ex.Message,
    };

    private static bool IsUnreachable(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is SocketException)
            {
                return true;
            }
        }
        return false;
    }
}
