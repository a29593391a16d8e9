/**
 * The content card of the task form: title and content with the payload size against the
 * platform's limit, the click action with its URL or page, and the custom parameters.
 */
import { DeleteOutlined, InfoCircleOutlined, PlusOutlined } from '@ant-design/icons';
import {
  Button,
  Card,
  Form,
  type FormInstance,
  Input,
  Progress,
  Radio,
  Space,
  Tooltip,
  Typography,
} from 'antd';
import type { ClickAction, Platform } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { PAYLOAD_LIMIT_BYTES, taskPayloadBytes } from './payload.ts';
import { ANDROID_ONLY, type ParamRow, type TaskFormValues } from './task-form-values.ts';

// Copies of the server's parameter-name and activity rules (server/src/domain/task-content.ts, where
// they are private), so a mistake shows as it is typed; the server's check decides.
const PARAM_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const ACTIVITY_NAME = /^\.?[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$/;

/** The task form's content card, for an app on `platform` (or the previewed one before an app is picked). */
export function TaskContentSection({
  form,
  platform,
  values,
  clickAction,
  paramErrors,
}: {
  form: FormInstance<TaskFormValues>;
  platform: Platform;
  /** The form's current values. */
  values: Partial<TaskFormValues> | undefined;
  /** The click action the values describe. */
  clickAction: ClickAction;
  /** Problems the server found with the parameter list as a whole. */
  paramErrors: string[];
}) {
  const { t } = useI18n();
  const bytes = taskPayloadBytes(platform, values?.title ?? '', values?.content ?? '', clickAction);
  const limit = PAYLOAD_LIMIT_BYTES[platform];

  const clickOptions = (['open_app', 'open_url', 'open_page', 'custom'] as const).map((type) => {
    const unavailable = ANDROID_ONLY.includes(type) && platform === 'ios';
    return {
      value: type,
      disabled: unavailable,
      label: (
        <Tooltip title={unavailable ? t('form.androidOnly') : null}>
          <span>{t(`click.${type}`)}</span>
        </Tooltip>
      ),
    };
  });

  return (
    <Card title={t('form.section.content')} size="small" style={{ marginBottom: 16 }}>
      <Form.Item
        name="title"
        label={t('form.title')}
        rules={[{ required: true, whitespace: true, message: t('form.required') }]}
      >
        <Input placeholder={t('form.titlePlaceholder')} />
      </Form.Item>
      <Form.Item
        name="content"
        label={t('form.content')}
        rules={[
          { required: true, whitespace: true, message: t('form.required') },
          {
            // The whole payload, not this field alone: the server refuses a task over the limit, so the
            // form does not submit one (checked again on submit, whichever field made it grow).
            validator: () =>
              bytes > limit
                ? Promise.reject(new Error(t('form.payloadTooLarge', { bytes, limit })))
                : Promise.resolve(),
          },
        ]}
      >
        <Input.TextArea rows={3} placeholder={t('form.contentPlaceholder')} />
      </Form.Item>
      <div style={{ marginTop: -8, marginBottom: 8 }}>
        <Typography.Text type={bytes > limit ? 'danger' : 'secondary'} style={{ fontSize: 12 }}>
          {t('form.payloadSize', { bytes, limit, platform: t(`platform.${platform}`) })}
        </Typography.Text>
        <Progress
          percent={Math.min(100, (bytes / limit) * 100)}
          showInfo={false}
          size="small"
          status={bytes > limit ? 'exception' : 'normal'}
        />
      </div>
      <Form.Item name="clickType" label={t('form.clickAction')}>
        <Radio.Group optionType="button" options={clickOptions} />
      </Form.Item>
      {values?.clickType === 'open_url' && (
        <Form.Item
          name="url"
          label={t('form.url')}
          // One message per problem: a value failing both rules below would otherwise show it twice.
          validateFirst
          rules={[
            { required: true, whitespace: true, message: t('form.required') },
            { type: 'url', message: t('form.urlInvalid') },
            { pattern: /^https?:\/\//i, message: t('form.urlInvalid') },
          ]}
        >
          <Input placeholder="https://example.com/promo" />
        </Form.Item>
      )}
      {values?.clickType === 'open_page' && (
        <Form.Item
          name="page"
          label={t('form.page')}
          rules={[
            { required: true, whitespace: true, message: t('form.required') },
            { pattern: ACTIVITY_NAME, message: t('form.pageInvalid') },
          ]}
        >
          <Input placeholder="com.example.app.PromoActivity" />
        </Form.Item>
      )}
      <Form.Item
        label={
          <span>
            {t('form.params')}{' '}
            <Tooltip title={t('form.paramsHint')}>
              <InfoCircleOutlined style={{ color: '#8c8c8c' }} />
            </Tooltip>
          </span>
        }
        required={values?.clickType === 'custom'}
      >
        <Form.List
          name="params"
          rules={[
            {
              validator: async (_, rows: ParamRow[]) => {
                const keys = (rows ?? []).map((r) => r?.key?.trim()).filter(Boolean);
                if (form.getFieldValue('clickType') === 'custom' && keys.length === 0) {
                  throw new Error(t('form.paramsRequired'));
                }
              },
            },
          ]}
        >
          {(fields, { add, remove }, { errors }) => (
            <>
              {fields.map((field) => (
                <Space key={field.key} align="baseline" style={{ display: 'flex' }}>
                  <Form.Item
                    name={[field.name, 'key']}
                    rules={[
                      { required: true, whitespace: true, message: t('form.paramKeyRequired') },
                      { pattern: PARAM_KEY, message: t('form.paramKeyInvalid') },
                      { max: 64, message: t('form.tooLong', { n: 64 }) },
                      {
                        validator: async (_, key: string | undefined) => {
                          if (key?.startsWith('pb_')) throw new Error(t('form.paramKeyReserved'));
                          if (platform === 'ios' && ['aps', 'd', 'p'].includes(key ?? '')) {
                            throw new Error(t('form.paramKeyReservedIos'));
                          }
                          const rows = (form.getFieldValue('params') as ParamRow[]) ?? [];
                          if (key && rows.filter((r) => r?.key?.trim() === key.trim()).length > 1) {
                            throw new Error(t('form.paramKeyDuplicate'));
                          }
                        },
                      },
                    ]}
                    style={{ marginBottom: 8 }}
                  >
                    <Input placeholder={t('form.paramKey')} style={{ width: 180 }} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'value']} style={{ marginBottom: 8 }}>
                    <Input placeholder={t('form.paramValue')} style={{ width: 240 }} />
                  </Form.Item>
                  <Button
                    type="text"
                    icon={<DeleteOutlined />}
                    aria-label={t('common.delete')}
                    onClick={() => remove(field.name)}
                  />
                </Space>
              ))}
              <Button
                type="dashed"
                icon={<PlusOutlined />}
                onClick={() => add({ key: '', value: '' })}
                disabled={fields.length >= 50}
              >
                {t('form.addParam')}
              </Button>
              <Form.ErrorList errors={[...errors, ...paramErrors]} />
            </>
          )}
        </Form.List>
      </Form.Item>
    </Card>
  );
}
