using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Kai.Protocol;
using Kai.Protocol.Rest;

namespace Kai.Hub.Tests.Security;

/// <summary>
/// Issue 10, item 5: CR, LF and ANSI escapes in client input (a <c>client_id</c>, a path, a command name) must not reach the console
/// log raw, where they forge log lines or repaint the operator's terminal. The hub runs as a child process with the plain-text
/// console format, and the test reads the bytes it writes.
/// </summary>
public sealed class LogInjectionTests
{
    private const string Evil = "evil\r\nFORGED-LINE level=critical\u001b[2J\u001b[31mred\u0007\u0085\u2028";

    [Fact]
    public async Task Control_characters_in_client_input_are_escaped_in_the_console_log()
    {
        var dataDir = Kai.Testing.TestHub.NewDataDirectory();
        var port = FreePort();
        using var process = Start(dataDir, port);
        var output = new MemoryStream();
        var pump = Task.Run(async () =>
        {
            var buffer = new byte[8192];
            int n;
            while ((n = await process.StandardOutput.BaseStream.ReadAsync(buffer)) > 0)
            {
                lock (output)
                {
                    output.Write(buffer, 0, n);
                }
            }
        });
        try
        {
            await WaitForAsync(output, "Now listening on", process);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };

            // 1. A client_id (logged when client credentials are refused).
            var token = await http.PostAsync("api/v1/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = Evil, ["client_secret"] = "wrong",
            }));
            Assert.Equal(HttpStatusCode.Unauthorized, token.StatusCode);
            // 2. A path (logged by the hosting layer at Information), percent-encoded so it reaches the hub decoded.
            await http.GetAsync("api/v1/x" + Uri.EscapeDataString(Evil));
            // 3. A name: a command name, logged when the command is queued.
            await http.PostAsJsonAsync("api/v1/auth/register", new RegisterRequest("log@example.com", "correct-horse-battery", "Log", true), KaiJson.Options);
            var login = (await (await http.PostAsJsonAsync("api/v1/auth/login", new LoginRequest("log@example.com", "correct-horse-battery"), KaiJson.Options))
                .Content.ReadFromJsonAsync<TokenResponse>(KaiJson.Options))!;
            http.DefaultRequestHeaders.Authorization = new("Bearer", login.AccessToken);
            (await http.PostAsJsonAsync("api/v1/agents/register", new RegisterAgentRequest("log-agent", "worker", "log-agent", "1", [], null, null), KaiJson.Options))
                .EnsureSuccessStatusCode();
            (await http.PostAsJsonAsync("api/v1/agents/log-agent/command", new SendCommandRequest("cmd" + Evil, Timeout: 0), KaiJson.Options)).EnsureSuccessStatusCode();

            await WaitForAsync(output, "Client credentials rejected for", process);
            await WaitForAsync(output, "api/v1/xevil", process);
            await WaitForAsync(output, "(cmdevil", process);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            await pump;
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        var text = Encoding.UTF8.GetString(output.ToArray());
        // Nothing the client sent starts a line of its own, and no escape sequence or control character is written raw.
        Assert.DoesNotContain('\u001b', text);
        Assert.DoesNotContain('\u0007', text);
        Assert.DoesNotContain('\r', text);
        Assert.DoesNotContain('\u0085', text);
        Assert.DoesNotContain('\u2028', text);
        Assert.DoesNotContain(text.Split('\n'), line => line.StartsWith("FORGED-LINE", StringComparison.Ordinal));
        // The input is still readable, escaped, in the lines that carry it.
        Assert.Contains(@"evil\r\nFORGED-LINE level=critical\x1b[2J\x1b[31mred\x07\x85\u2028", text, StringComparison.Ordinal);
        Assert.True(CountOf(text, @"evil\r\nFORGED-LINE") >= 3, text);
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    private static async Task WaitForAsync(MemoryStream output, string marker, Process process)
    {
        // Waits for the child's output; bounded so a hub that never writes fails the test instead of hanging it.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            string text;
            lock (output)
            {
                text = Encoding.UTF8.GetString(output.ToArray());
            }
            if (text.Contains(marker, StringComparison.Ordinal))
            {
                return;
            }
            Assert.False(process.HasExited, $"the hub exited:\n{text}");
            Assert.False(timeout.IsCancellationRequested, $"'{marker}' never appeared in the hub's output:\n{text}");
            await Task.Delay(50);
        }
    }

    private static Process Start(string dataDir, int port)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Kai.sln")))
        {
            root = root.Parent;
        }
        Assert.NotNull(root);
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        var dll = Path.Combine(root.FullName, "src", "Kai.Hub", "bin", configuration, "net10.0", "Kai.Hub.dll");
        Assert.True(File.Exists(dll), $"build the hub first: {dll}");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false };
        foreach (var arg in new[]
        {
            dll, "--urls", $"http://127.0.0.1:{port}", $"--Kai:DataDirectory={dataDir}", "--environment", "Production",
            "--Logging:Console:FormatterName=simple", "--Logging:Console:FormatterOptions:ColorBehavior=Disabled",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
            "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Information", "--Logging:LogLevel:Kai=Information",
        })
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["DOTNET_CONSOLE_ANSI_COLOR"] = "false";
        return Process.Start(info)!;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
