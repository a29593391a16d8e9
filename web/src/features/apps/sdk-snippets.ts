/**
 * What an app's devices send to Pushboard (docs/devices.md#sdk-registration), and the code that sends it in each language:
 * TypeScript with the `@pushboard/sdk` package, and Kotlin and Swift straight on the wire. The
 * snippets carry the real base URL and SDK key; the SDK secret stays a placeholder, because the
 * console never has it after the app was created.
 */
import type { Platform } from '../../api/types.ts';

/** Where a device registers itself or refreshes its push token. */
export const SDK_DEVICES_PATH = '/api/v1/sdk/devices';
/** Where a device reports its receipts. */
export const SDK_RECEIPTS_PATH = '/api/v1/receipts/sdk';
/** What a snippet says instead of the SDK secret. */
export const SECRET_PLACEHOLDER = '<your SDK secret>';

/** The languages a snippet is shown in. */
export type SnippetLanguage = 'typescript' | 'kotlin' | 'swift';
/** Every snippet language, in the order of their tabs. */
export const SNIPPET_LANGUAGES: readonly SnippetLanguage[] = ['typescript', 'kotlin', 'swift'];

/** The snippet an app's platform opens on: Kotlin for Android apps, Swift for iOS apps. */
export function defaultSnippetLanguage(platform: Platform): SnippetLanguage {
  return platform === 'ios' ? 'swift' : 'kotlin';
}

/** What a snippet is filled in with. */
export interface SnippetValues {
  /** The console's origin, which serves the API too. */
  baseUrl: string;
  sdkKey: string;
}

// A JSON string literal is a string literal in all three languages as long as the value is ASCII
// without `$` (a Kotlin template): an origin and a `pbk_` key are.
const quote = (value: string) => JSON.stringify(value);

/** The code of one language, ready to copy. */
export function sdkSnippet(language: SnippetLanguage, values: SnippetValues): string {
  const baseUrl = quote(values.baseUrl);
  const sdkKey = quote(values.sdkKey);
  const secret = quote(SECRET_PLACEHOLDER);
  switch (language) {
    case 'typescript':
      return `import { localStorageAdapter, Pushboard, taskIdFromPayload } from "@pushboard/sdk";

const pb = new Pushboard({
  baseUrl: ${baseUrl},
  sdkKey: ${sdkKey},
  sdkSecret: ${secret},
  // The ID your audiences list for this device (your own ID, OAID, IDFV…).
  deviceId: "<your device ID>",
  // Keeps unsent receipts across restarts; on React Native pass AsyncStorage as it is.
  storage: localStorageAdapter(localStorage),
});

// At start and with every new push token (FCM, APNs, Umeng…).
export async function onPushToken(pushToken: string) {
  await pb.register({
    pushToken,
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    locale: navigator.language,
    appVersion: "1.0.0", // your app's version
  });
}

// When the user opens a notification: \`data\` is the push's payload as your push library gives it.
// Also "delivered", "impression" and, on Android, "dismissal". Receipts are batched and retried.
export async function onNotificationOpened(data: unknown) {
  const taskId = taskIdFromPayload(data);
  if (taskId) await pb.track(taskId, "open");
}
`;
    case 'kotlin':
      return `import android.content.Intent
import com.google.firebase.messaging.FirebaseMessagingService
import com.google.firebase.messaging.RemoteMessage
import java.io.IOException
import java.time.Instant
import java.util.Locale
import java.util.TimeZone
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import okhttp3.Call
import okhttp3.Callback
import okhttp3.MediaType.Companion.toMediaType
import okhttp3.OkHttpClient
import okhttp3.Request
import okhttp3.RequestBody.Companion.toRequestBody
import okhttp3.Response
import org.json.JSONArray
import org.json.JSONObject

object Pushboard {
    private const val BASE_URL = ${baseUrl}
    private const val SDK_KEY = ${sdkKey}
    private const val SDK_SECRET = ${secret}
    private val http = OkHttpClient()

    /** The ID your audiences list for this device (your own ID, OAID…). */
    var deviceId = "<your device ID>"

    /** Registers this device, or refreshes its push token. */
    fun register(pushToken: String, appVersion: String?) {
        val device = JSONObject()
            .put("deviceId", deviceId)
            .put("pushToken", pushToken)
            .put("timeZone", TimeZone.getDefault().id)
            .put("locale", Locale.getDefault().toLanguageTag())
            .put("appVersion", appVersion)
        post("${SDK_DEVICES_PATH}", device)
    }

    /** Reports a receipt: "delivered", "impression", "open" or "dismissal". */
    fun track(taskId: String, kind: String) {
        val receipt = JSONObject()
            .put("taskId", taskId)
            .put("deviceId", deviceId)
            .put("kind", kind)
            .put("at", Instant.now().toString())
        post("${SDK_RECEIPTS_PATH}", JSONObject().put("receipts", JSONArray().put(receipt)))
    }

    private fun post(path: String, body: JSONObject) {
        val raw = body.toString().toByteArray()
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(SecretKeySpec(SDK_SECRET.toByteArray(), "HmacSHA256"))
        val signature = mac.doFinal(raw).joinToString("") { "%02x".format(it) }
        val request = Request.Builder()
            .url(BASE_URL + path)
            .header("X-Pushboard-Key", SDK_KEY)
            .header("X-Pushboard-Signature", signature)
            .post(raw.toRequestBody("application/json".toMediaType()))
            .build()
        http.newCall(request).enqueue(object : Callback {
            // Keep the body and send it again later: after a network error, a 5xx or a 429.
            override fun onFailure(call: Call, e: IOException) {}
            override fun onResponse(call: Call, response: Response) = response.close()
        })
    }
}

class PushService : FirebaseMessagingService() {
    override fun onNewToken(token: String) {
        Pushboard.register(token, packageManager.getPackageInfo(packageName, 0).versionName)
    }

    override fun onMessageReceived(message: RemoteMessage) {
        message.data["pb_task"]?.let { Pushboard.track(it, "delivered") }
    }
}

// In the activity a notification opens, from onCreate and onNewIntent.
fun trackOpen(intent: Intent) {
    intent.getStringExtra("pb_task")?.let { Pushboard.track(it, "open") }
}
`;
    case 'swift':
      return `import CryptoKit
import UIKit
import UserNotifications

enum Pushboard {
    static let baseURL = ${baseUrl}
    static let sdkKey = ${sdkKey}
    static let sdkSecret = ${secret}
    /// The ID your audiences list for this device (your own ID, IDFV…).
    static var deviceId = "<your device ID>"

    /// Registers this device, or refreshes its push token.
    static func register(pushToken: Data) {
        post("${SDK_DEVICES_PATH}", [
            "deviceId": deviceId,
            "pushToken": pushToken.map { String(format: "%02x", $0) }.joined(),
            "timeZone": TimeZone.current.identifier,
            "locale": Locale.preferredLanguages.first ?? "en",
            "appVersion": Bundle.main.infoDictionary?["CFBundleShortVersionString"] as? String ?? "",
        ])
    }

    /// Reports a receipt of the push with this payload: "delivered", "impression" or "open".
    static func track(_ userInfo: [AnyHashable: Any], kind: String) {
        guard let taskId = userInfo["pb_task"] as? String else { return }
        post("${SDK_RECEIPTS_PATH}", ["receipts": [[
            "taskId": taskId,
            "deviceId": deviceId,
            "kind": kind,
            "at": ISO8601DateFormatter().string(from: Date()),
        ]]])
    }

    private static func post(_ path: String, _ body: [String: Any]) {
        let raw = try! JSONSerialization.data(withJSONObject: body)
        let key = SymmetricKey(data: Data(sdkSecret.utf8))
        let signature = HMAC<SHA256>.authenticationCode(for: raw, using: key)
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(sdkKey, forHTTPHeaderField: "X-Pushboard-Key")
        request.setValue(signature.map { String(format: "%02x", $0) }.joined(),
                         forHTTPHeaderField: "X-Pushboard-Signature")
        request.httpBody = raw
        // Send it again later on a network error, a 5xx or a 429; other answers are final.
        URLSession.shared.dataTask(with: request).resume()
    }
}

class AppDelegate: UIResponder, UIApplicationDelegate, UNUserNotificationCenterDelegate {
    func application(_ application: UIApplication,
                     didFinishLaunchingWithOptions options: [UIApplication.LaunchOptionsKey: Any]?) -> Bool {
        UNUserNotificationCenter.current().delegate = self
        application.registerForRemoteNotifications()
        return true
    }

    func application(_ application: UIApplication,
                     didRegisterForRemoteNotificationsWithDeviceToken deviceToken: Data) {
        Pushboard.register(pushToken: deviceToken)
    }

    // The user opened a notification.
    func userNotificationCenter(_ center: UNUserNotificationCenter,
                                didReceive response: UNNotificationResponse,
                                withCompletionHandler completionHandler: @escaping () -> Void) {
        Pushboard.track(response.notification.request.content.userInfo, kind: "open")
        completionHandler()
    }
}
`;
  }
}
