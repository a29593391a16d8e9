/**
 * Uploading a key file in the app form: the file picker that reads the file in the browser
 * (key-files.ts), the form rule naming what is wrong with it, and the note that a stored key is kept.
 */
import { FileTextOutlined, UploadOutlined } from '@ant-design/icons';
import { Button, Space, Typography } from 'antd';
import { type ReactNode, useRef } from 'react';
import { type Translate, useI18n } from '../../i18n/i18n.tsx';
import {
  type KeyFile,
  type KeyFileProblem,
  type KeyFileRead,
  MAX_KEY_FILE_BYTES,
  readKeyFile,
} from './key-files.ts';

/** A key file's problem in words. */
function keyFileProblemText(problem: KeyFileProblem, t: Translate): string {
  switch (problem.code) {
    case 'TOO_LARGE':
      return t('keyFile.tooLarge', { kb: MAX_KEY_FILE_BYTES / 1024 });
    case 'NOT_JSON':
      return t('keyFile.notJson');
    case 'NOT_SERVICE_ACCOUNT':
      return t('keyFile.notServiceAccount', { type: problem.type });
    case 'FIELD_MISSING':
      return t('keyFile.fieldMissing', { field: problem.field });
    case 'NOT_PEM_KEY':
      return t('keyFile.notPemKey', { field: problem.field });
    case 'NOT_P8':
      return t('keyFile.notP8');
  }
}

/** A form rule for a key file: its problem, if any; required unless a stored key is kept. */
export function keyFileRule<T>(required: boolean, t: Translate) {
  return {
    validator: (_: unknown, value: KeyFile<T> | undefined) => {
      if (value && !value.ok) return Promise.reject(new Error(keyFileProblemText(value.problem, t)));
      if (!value && required) return Promise.reject(new Error(t('keyFile.required')));
      return Promise.resolve();
    },
  };
}

/** Picks a key file and reads it in the browser; a form item gives it `value` and `onChange`. */
export function KeyFileInput<T>({
  value,
  onChange,
  testId,
  accept,
  parse,
  keeping,
}: {
  value?: KeyFile<T>;
  onChange?: (value: KeyFile<T> | undefined) => void;
  testId: string;
  accept: string;
  parse: (text: string) => KeyFileRead<T>;
  /** Shown while no file is chosen on a change: the stored key is kept. */
  keeping?: ReactNode;
}) {
  const { t } = useI18n();
  const input = useRef<HTMLInputElement>(null);
  return (
    <Space wrap size={[12, 4]}>
      <Button icon={<UploadOutlined />} onClick={() => input.current?.click()}>
        {value || keeping ? t('keyFile.chooseAnother') : t('keyFile.choose')}
      </Button>
      <input
        ref={input}
        type="file"
        accept={accept}
        style={{ display: 'none' }}
        data-testid={testId}
        onChange={async (event) => {
          const file = event.target.files?.[0];
          // Cleared so that choosing the same file again (after fixing it) reads it again.
          event.target.value = '';
          if (file) onChange?.(await readKeyFile(file, parse));
        }}
      />
      {value ? (
        <Space size={8}>
          <Typography.Text>
            <FileTextOutlined /> {value.fileName}
          </Typography.Text>
          <Button type="link" size="small" onClick={() => onChange?.(undefined)} style={{ padding: 0 }}>
            {keeping ? t('keyFile.keepStored') : t('keyFile.remove')}
          </Button>
        </Space>
      ) : (
        keeping
      )}
    </Space>
  );
}

/**
 * "A key is stored: kept unless you choose a new file." The masked form the API reads is not shown:
 * every PEM key ends alike, so its last characters tell nothing.
 */
export function KeptKey() {
  const { t } = useI18n();
  return (
    <Typography.Text type="secondary" data-testid="kept-key">
      {t('keyFile.kept')}
    </Typography.Text>
  );
}
