using System.Text.Json;
using Kai.Hub.Auth;
using Kai.Hub.Edges;

namespace Kai.Hub.Chat;

/// <summary>
/// The chat capability's side of <c>/api/chat/ws/{session_id}</c>: admission through <see cref="ChatService.AdmitAsync"/> (ownership
/// in <see cref="Access"/>), and each client frame handed to <see cref="ChatService.HandleAsync"/>. The socket lifecycle (ping,
/// timeouts, budget, malformed frames) is <see cref="ChatSocketHost"/>'s.
/// </summary>
internal sealed class ChatSocketEdge(ChatService chat) : IChatSocketEdge
{
    public ValueTask<ChatAdmission> AdmitAsync(HttpContext http, KaiPrincipal principal, CancellationToken ct) =>
        chat.AdmitAsync(principal, (string)http.GetRouteValue("sessionId")!, ct);

    public Task OpenedAsync(ChatLinkContext link, CancellationToken ct) => chat.OpenedAsync(link, ct);

    public Task HandleAsync(ChatLinkContext link, string type, JsonElement frame, CancellationToken ct) => chat.HandleAsync(link, type, frame, ct);

    public Task ClosedAsync(ChatLinkContext link) => chat.ClosedAsync(link);
}
